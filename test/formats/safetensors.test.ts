import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../ts/formats/byte-source.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { modelConfig } from '../../ts/models/registry.js';
import { readSafetensors } from '../../ts/formats/safetensors.js';
import { encodeSafetensors, writeSafetensors } from '../../ts/formats/safetensors-writer.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { rng } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-st-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A header written by hand from the format description (independent of our writer). */
function handMade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors reader', () => {
  const a = Float32Array.of(1, 2, 3, 4, 5, 6);
  const b = Uint16Array.of(0x3c00, 0x4000);
  const data = new Uint8Array(28);
  data.set(new Uint8Array(a.buffer), 0);
  data.set(new Uint8Array(b.buffer), 24);
  const good = { __metadata__: { format: 'pt' }, a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] }, b: { dtype: 'BF16', shape: [2], data_offsets: [24, 28] } };

  it('reads a hand-made file: metadata, shapes, absolute offsets', () => {
    const bytes = handMade(good, data);
    const f = readSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.map((t) => [t.name, t.dtype, t.type, t.shape, t.byteLength])).toEqual([['a', 'F32', 'F32', [2, 3], 24], ['b', 'BF16', 'BF16', [2], 4]]);
    const ta = f.tensors[0]!;
    expect(Array.from(new Float32Array(bytes.slice(ta.offset, ta.offset + 24).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('reads back what the writer wrote (8-byte aligned data start)', () => {
    const bytes = encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [3], data: Float32Array.of(7, 8, 9) }, { name: 'y', dtype: 'F16', shape: [1, 1], data: Uint16Array.of(0x3c00) }], { k: 'v' });
    const f = readSafetensors(bytes);
    expect(f.dataOffset % 8).toBe(0);
    expect(f.metadata).toEqual({ k: 'v' });
    const x = f.tensors.find((t) => t.name === 'x')!;
    expect(Array.from(new Float32Array(bytes.slice(x.offset, x.offset + 12).buffer))).toEqual([7, 8, 9]);
    expect(() => encodeSafetensors([{ name: 'x', dtype: 'F32', shape: [2], data: new Float32Array(3) }])).toThrow(/needs 8/);
  });

  it('rejects lying headers with clear errors', () => {
    const bad = (h: object, d = data) => () => readSafetensors(handMade(h, d));
    expect(bad({ ...good, a: { ...good.a, data_offsets: [0, 20] } })).toThrow(/span 20 bytes but F32 × \[2, 3\] needs 24/);
    expect(bad({ ...good, b: { ...good.b, data_offsets: [24, 40] } })).toThrow(/lie outside/);
    expect(bad({ ...good, b: { ...good.b, data_offsets: [20, 24] } })).toThrow(/overlap/);
    expect(bad({ ...good, b: { ...good.b, dtype: 'Q9' } })).toThrow(/unknown dtype 'Q9'/);
    expect(bad({ ...good, a: { ...good.a, shape: [2, -3] } })).toThrow(/non-negative integers/);
    expect(bad({ ...good, a: { ...good.a, shape: [2 ** 40, 2 ** 40] } })).toThrow(/overflows/);
    expect(bad({ ...good, a: { ...good.a, data_offsets: [0] } })).toThrow(/data_offsets/);
    expect(bad({ ...good, __metadata__: { n: 1 } })).toThrow(/must be a string/);
    expect(bad([] as unknown as object)).toThrow(/must be an object/);
    const lenLie = handMade(good, data);
    new DataView(lenLie.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => readSafetensors(lenLie)).toThrow(/header length/);
    const notJson = handMade(good, data);
    notJson[9] = 0x7b; // '{{'
    expect(() => readSafetensors(notJson)).toThrow(/not valid JSON/);
  });

  it('gives a FormatError at every truncation point and under random byte flips', () => {
    const bytes = handMade(good, data);
    for (let cut = 0; cut < bytes.length; cut++) {
      let f;
      try {
        f = readSafetensors(bytes.subarray(0, cut));
      } catch (err) {
        expect(err, `cut ${cut}`).toBeInstanceOf(FormatError);
        continue;
      }
      throw new Error(`cut at ${cut} parsed: ${JSON.stringify(f.tensors)}`);
    }
    const rand = rng(99);
    for (let i = 0; i < 2000; i++) {
      const c = bytes.slice();
      c[Math.floor(rand() * c.length)] = Math.floor(rand() * 256);
      try {
        const f = readSafetensors(c);
        for (const t of f.tensors) expect(t.offset + t.byteLength).toBeLessThanOrEqual(c.length);
      } catch (err) {
        expect(err).toBeInstanceOf(FormatError);
      }
    }
  });
});

describe('Hugging Face directories', () => {
  const single = join(dir, 'single');
  makeRandomModel({ arch: 'llama', size: 'tiny', seed: 3, hf: single });

  it('a sharded copy (model.safetensors.index.json) opens to the same tensors', () => {
    const sharded = join(dir, 'sharded');
    mkdirSync(sharded);
    for (const f of ['config.json', 'tokenizer.json']) writeFileSync(join(sharded, f), readFileSync(join(single, f)));
    const src = readSafetensors(join(single, 'model.safetensors'));
    const bytes = readFileSync(join(single, 'model.safetensors'));
    const half = Math.ceil(src.tensors.length / 2);
    const weightMap: Record<string, string> = {};
    [src.tensors.slice(0, half), src.tensors.slice(half)].forEach((part, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(sharded, file), part.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: bytes.subarray(t.offset, t.offset + t.byteLength) })));
      for (const t of part) weightMap[t.name] = file;
    });
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    using a = openModelFile(single);
    using b = openModelFile(sharded);
    expect(modelConfig(b)).toEqual(modelConfig(a));
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const name of a.tensors.keys()) expect(b.vector(name), name).toEqual(a.vector(name));
    expect(new Set([...b.tensors.values()].map((e) => e.file)).size).toBe(2);

    // An index naming a tensor its shard does not hold, or a missing shard file.
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, 'model.extra.weight': 'model-00001-of-00002.safetensors' } }));
    expect(() => openModelFile(sharded)).toThrow(/'model.extra.weight' is not in its shard/);
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { ...weightMap, x: 'gone.safetensors' } }));
    expect(() => openModelFile(sharded)).toThrow(/shard 'gone.safetensors' is missing/);
    writeFileSync(join(sharded, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { x: '../evil.safetensors' } }));
    expect(() => openModelFile(sharded)).toThrow(/plain file name/);
  });

  it('rejects directories that are not a supported model', () => {
    const d = join(dir, 'bad');
    mkdirSync(d);
    expect(() => openModelFile(d)).toThrow(/no config.json/);
    // The file view knows no family: a directory of an architecture we do not run opens, and the
    // architecture table (ts/models) refuses it.
    const t5 = join(dir, 't5');
    mkdirSync(t5);
    // BART: an encoder-decoder tensorloom does not run (T5 is now supported)
    writeFileSync(join(t5, 'config.json'), JSON.stringify({ architectures: ['BartForConditionalGeneration'], model_type: 'bart' }));
    writeSafetensors(join(t5, 'model.safetensors'), [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    using b = openModelFile(t5);
    expect(b.architecture).toBe('BartForConditionalGeneration');
    expect(() => modelConfig(b)).toThrow(/unsupported architecture 'BartForConditionalGeneration'; supported: llama/);
    writeFileSync(join(d, 'config.json'), '{ nope');
    expect(() => openModelFile(d)).toThrow(FormatError);
    writeFileSync(join(d, 'config.json'), readFileSync(join(single, 'config.json')));
    expect(() => openModelFile(d)).toThrow(/no model.safetensors/);
    writeFileSync(join(d, 'model.safetensors'), new Uint8Array(4));
    expect(() => openModelFile(d)).toThrow(/too short/);
    // Valid weights, lying config.
    writeFileSync(join(d, 'model.safetensors'), readFileSync(join(single, 'model.safetensors')));
    const cfg = JSON.parse(readFileSync(join(single, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, hidden_size: -64 }));
    expect(() => modelConfig(openModelFile(d))).toThrow(/hidden_size is invalid \(-64\)/);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...cfg, num_attention_heads: undefined }));
    expect(() => modelConfig(openModelFile(d))).toThrow(/num_attention_heads is missing/);
  });
});
