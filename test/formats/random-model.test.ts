import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { permuteHalfToInterleaved } from '../../ts/formats/convert.js';
import { quantizeQ8_0, f32ArrayToF16 } from '../../ts/formats/dtype-convert.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { modelConfig, resolveModel } from '../../ts/models/registry.js';
import { CONFIGS, makeRandomModel, randomBPE } from '../../scripts/make-random-model.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-random-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('make-random-model', () => {
  it('is reproducible from the seed, and the seed matters', () => {
    const p = (n: string) => join(dir, n);
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 5, gguf: p('a.gguf'), hf: p('a') });
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 5, gguf: p('b.gguf'), hf: p('b') });
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 6, gguf: p('c.gguf') });
    expect(Buffer.compare(readFileSync(p('a.gguf')), readFileSync(p('b.gguf')))).toBe(0);
    expect(Buffer.compare(readFileSync(p('a/model.safetensors')), readFileSync(p('b/model.safetensors')))).toBe(0);
    expect(readFileSync(p('a/tokenizer.json'), 'utf8')).toBe(readFileSync(p('b/tokenizer.json'), 'utf8'));
    expect(Buffer.compare(readFileSync(p('a.gguf')), readFileSync(p('c.gguf')))).not.toBe(0);
  });

  it('writes the configured shapes and a BPE vocabulary of exactly vocabSize unique tokens', () => {
    const { tokens, merges } = randomBPE(CONFIGS.llama.tiny.vocabSize, 1);
    expect(tokens.length).toBe(512);
    expect(new Set(tokens).size).toBe(512);
    expect(merges.length).toBe(512 - 257);
    for (const [i, [a, b]] of merges.entries()) expect(tokens[256 + i]).toBe(a + b);
    using m = openModelFile(join(dir, 'a'));
    const c = CONFIGS.llama.tiny;
    expect(modelConfig(m)).toMatchObject({ dim: c.dim, nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, hiddenDim: c.ffnDim, vocabSize: c.vocabSize, contextLength: c.contextLength, rope: { layout: 'half' } });
    expect(m.has('lm_head.weight')).toBe(true);
    expect(m.tokenizer.kind).toBe('hf');
  });

  for (const arch of ['llama', 'gpt2'] as const) {
    it(`${arch}: the safetensors directory and the GGUFs (f32, f16, q8_0) hold the same tensors`, () => {
      const hf = join(dir, `${arch}-hf`);
      makeRandomModel({ arch, size: 'tiny', seed: 11, hf, gguf: join(dir, `${arch}-f32.gguf`) });
      makeRandomModel({ arch, size: 'tiny', seed: 11, type: 'f16', gguf: join(dir, `${arch}-f16.gguf`), hf: join(dir, `${arch}-hf16`) });
      makeRandomModel({ arch, size: 'tiny', seed: 11, type: 'q8_0', gguf: join(dir, `${arch}-q8_0.gguf`) });
      using hfFile = openModelFile(hf);
      using hf16File = openModelFile(join(dir, `${arch}-hf16`));
      const { file: src, config: srcConfig } = resolveModel(hfFile);
      const src16 = resolveModel(hf16File).file;
      using f32 = openModelFile(join(dir, `${arch}-f32.gguf`));
      using f16 = openModelFile(join(dir, `${arch}-f16.gguf`));
      using q8 = openModelFile(join(dir, `${arch}-q8_0.gguf`));
      expect(modelConfig(f32).rope?.layout).toBe(arch === 'gpt2' ? undefined : 'interleaved');
      expect(f32.has('output.weight')).toBe(arch !== 'gpt2');
      expect([...f32.tensors.keys()].sort()).toEqual([...src.tensors.keys()].sort());
      const { nHeads, nKvHeads } = srcConfig;
      for (const [name, e] of src.tensors) {
        const heads = arch === 'llama' && name.endsWith('attn_q.weight') ? nHeads : arch === 'llama' && name.endsWith('attn_k.weight') ? nKvHeads : 0;
        const cols = e.shape[e.shape.length - 1]!;
        let want = src.vector(name);
        if (heads) want = permuteHalfToInterleaved(want, heads, cols);
        expect(f32.weights(name).data, name).toEqual(want);
        expect(f32.tensors.get(name)!.shape, name).toEqual(e.shape);
        if (e.shape.length === 1) continue;
        let want16 = src16.weights(name).data as Uint16Array;
        if (heads) want16 = permuteHalfToInterleaved(want16, heads, cols);
        expect(f16.weights(name).data, `${name} f16`).toEqual(want16);
        expect(Array.from(want16.subarray(0, 8)), 'hf f16 is the f16 of hf f32').toEqual(Array.from(f32ArrayToF16(want).subarray(0, 8)));
        expect(q8.weights(name).data, `${name} q8_0`).toEqual(cols % 32 === 0 ? quantizeQ8_0(want) : f32ArrayToF16(want));
      }
    });
  }
});
