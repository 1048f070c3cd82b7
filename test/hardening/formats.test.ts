/**
 * Model files that lie (issue #16, escapes 4 and 5): sizes are checked against the file length
 * before anything is allocated, for every format, and every config value is checked when the
 * file opens, with the key and the file named.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { f32, u32, writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { readLlama2c } from '../../ts/formats/llama2c.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { resolveModel } from '../../ts/models/architectures.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-harden-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `code` in a child Node whose heap is capped at 50 MB: a parser that allocates what a header claims dies there. */
function inSmallHeap(code: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--max-old-space-size=50', '--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}
const mod = (rel: string): string => JSON.stringify(new URL(rel, import.meta.url).href);

describe('escape 4: header sizes are checked against the file length first', () => {
  // A 1 MB llama2.c file whose header says 2^20 layers (the case: 9.3 s and 1.64 GB before).
  const lying = join(dir, 'layers.bin');
  beforeAll(() => {
    const b = Buffer.alloc(1 << 20);
    new Int32Array(b.buffer, 0, 7).set([64, 172, 1 << 20, 8, 4, 512, 512]);
    writeFileSync(lying, b);
  });

  it('llama2.c: n_layers = 2^20 in a 1 MB file is refused at once, inside a 50 MB heap', () => {
    expect(() => readLlama2c(lying)).toThrow(/1048576 layers.*needs \d+ bytes of weights but the file has 1048576/);
    // No timing assertion (tests assert, benchmarks measure: the fuzzer reports per-input times).
    // The old code built 9.4 M tensor entries here (9.3 s, 1.64 GB); in a 50 MB heap it cannot.
    const r = inSmallHeap(`
      const { readLlama2c } = await import(${mod('../../ts/formats/llama2c.ts')});
      const before = process.memoryUsage().rss;
      try { readLlama2c(${JSON.stringify(lying)}); } catch (e) { console.log('clean:', e.name, (process.memoryUsage().rss - before) < 50e6); }`);
    expect(r.out).toMatch(/clean: FormatError true/);
    expect(r.status).toBe(0);
  });

  it('GGUF and safetensors: counts and lengths beyond the file are refused inside a 50 MB heap', () => {
    const gguf = Buffer.alloc(1 << 20);
    gguf.write('GGUF', 0, 'latin1');
    gguf.writeUInt32LE(3, 4);
    gguf.writeBigUInt64LE(1n << 40n, 8); // tensor_count
    gguf.writeBigUInt64LE(1n, 16);
    writeFileSync(join(dir, 'count.gguf'), gguf);
    const st = Buffer.alloc(1 << 20);
    st.writeBigUInt64LE(BigInt(1 << 26), 0); // a 64 MB header in a 1 MB file
    writeFileSync(join(dir, 'header.safetensors'), st);
    const r = inSmallHeap(`
      const { readGGUF } = await import(${mod('../../ts/formats/gguf.ts')});
      const { readSafetensors } = await import(${mod('../../ts/formats/safetensors.ts')});
      for (const [read, p] of [[readGGUF, ${JSON.stringify(join(dir, 'count.gguf'))}], [readSafetensors, ${JSON.stringify(join(dir, 'header.safetensors'))}]]) {
        try { read(p); } catch (e) { console.log('clean:', e.name, e.message); }
      }`);
    expect(r.out).toMatch(/clean: FormatError .*tensor_count.*cannot fit/);
    expect(r.out).toMatch(/clean: FormatError .*header length 67108864 exceeds/);
    expect(r.status).toBe(0);
  });
});

/** Opens a model for use, as loadModel does: the file, then its family reads and checks the config. */
function openForUse(path: string): void {
  using m = openModelFile(path);
  resolveModel(m);
}

describe('escape 5: config values are checked when the model is opened, naming the key and the file', () => {
  const base = join(dir, 'base.gguf');
  const hf = join(dir, 'hf');
  beforeAll(() => {
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 5, gguf: base, hf });
  });

  /** The base GGUF with some metadata values replaced. */
  function ggufWith(name: string, changes: Record<string, GGUFWriteValue>): string {
    const g = readGGUF(base);
    const bytes = readFileSync(base);
    const metadata: [string, GGUFWriteValue][] = [];
    for (const [k, v] of g.metadata) {
      if (k in changes) continue;
      const t = g.metadataTypes.get(k)!;
      metadata.push([k, { type: t.type, value: v, ...(t.itemType !== undefined ? { itemType: t.itemType } : {}) }]);
    }
    for (const [k, v] of Object.entries(changes)) metadata.push([k, v]);
    const tensors = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
    const out = join(dir, name);
    writeGGUF(out, { metadata, tensors });
    return out;
  }

  it('the unchanged files open', () => {
    openForUse(base);
    openForUse(hf);
  });

  it.each([
    ['rope.dimension_count odd', { 'llama.rope.dimension_count': u32(7) }, /odd\.gguf: llama\.rope\.dimension_count = 7 must be an even integer/],
    ['rope.dimension_count past the head', { 'llama.rope.dimension_count': u32(4096) }, /llama\.rope\.dimension_count = 4096 must be at most the head dimension/],
    ['rope.freq_base NaN', { 'llama.rope.freq_base': f32(Number.NaN) }, /llama\.rope\.freq_base = NaN must be a finite number > 0/],
    ['rope.freq_base negative', { 'llama.rope.freq_base': f32(-1) }, /llama\.rope\.freq_base = -1 must be/],
    ['norm epsilon NaN', { 'llama.attention.layer_norm_rms_epsilon': f32(Number.NaN) }, /llama\.attention\.layer_norm_rms_epsilon = NaN must be a number in \(0, 1\)/],
    ['head_count_kv not dividing', { 'llama.attention.head_count_kv': u32(3) }, /llama\.attention\.head_count_kv = 3 must divide/],
  ])('GGUF: %s', (name, changes, message) => {
    const p = ggufWith(name.startsWith('rope.dimension_count odd') ? 'odd.gguf' : `${name.replace(/\W+/g, '-')}.gguf`, changes);
    expect(() => openForUse(p)).toThrow(message);
  });

  it.each([
    ['head_dim 63', { head_dim: 63 }, /config\.json: head_dim × partial_rotary_factor = 63 must be an even integer|config\.json: head_dim/],
    ['rms_norm_eps negative', { rms_norm_eps: -1 }, /config\.json: rms_norm_eps = -1 must be a number in \(0, 1\)/],
    ['rope_theta 0', { rope_theta: 0 }, /config\.json: rope_theta = 0 must be a finite number > 0/],
    ['num_key_value_heads 3', { num_key_value_heads: 3 }, /config\.json: num_key_value_heads = 3 must divide/],
  ])('safetensors config.json: %s', (name, changes, message) => {
    const d = join(dir, name.replace(/\W+/g, '-'));
    mkdirSync(d, { recursive: true });
    const cfg = { ...JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')), ...changes };
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    writeFileSync(join(d, 'model.safetensors'), readFileSync(join(hf, 'model.safetensors')));
    expect(() => openForUse(d)).toThrow(message);
  });
});
