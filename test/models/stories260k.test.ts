/**
 * The real trained stories260K model (llama2.c .bin + tok512.bin, and llama.cpp's own GGUF
 * conversions) against node-llama-cpp as the oracle: greedy decoding from BOS must give the same
 * 200 tokens, and the text must open as llama2.c's reference output does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocal } from '../../ts/generate/load-local.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { buildTransformer } from '../../ts/models/registry.js';
import { getBackend } from '../../ts/backend/index.js';
import { haveStories, maxAbsDiff, nativeAvailable, stories, STORIES_OPENING, storiesMissing } from './helpers.js';
import { oracleGreedy, oracleMissing, oraclePath } from './llama-cpp-oracle.js';

const STEPS = 200;
const BOS = 1;

type Loaded = Awaited<ReturnType<typeof loadLocal>>;
const opened: Loaded[] = [];
async function open(path: string, backend: 'native' | 'js', extra: Parameters<typeof loadLocal>[1] = {}): Promise<Loaded> {
  const l = await loadLocal(path, { backend, threads: 1, ...extra });
  opened.push(l);
  return l;
}
afterAll(() => {
  for (const l of opened) l.close();
});

describe.skipIf(!haveStories)(`stories260K ${haveStories ? '' : storiesMissing}`, () => {
  describe.skipIf(!oraclePath)(`vs node-llama-cpp ${oraclePath ? '' : oracleMissing}`, () => {
    let f32Tokens: number[] = [];
    let q8Tokens: number[] = [];
    beforeAll(async () => {
      f32Tokens = (await oracleGreedy(stories.f32, [BOS], STEPS)).tokens;
      q8Tokens = (await oracleGreedy(stories.q8, [BOS], STEPS)).tokens;
    });

    it('the oracle itself opens with llama2.c\'s reference text (sanity of the reference)', async () => {
      const l = await open(stories.bin, nativeAvailable() ? 'native' : 'js');
      const text = l.engine.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
      const s = f32Tokens.map((t) => text.push(t)).join('') + text.flush();
      expect(s.startsWith(STORIES_OPENING)).toBe(true);
    });

    for (const [name, path] of [['.bin + tok512.bin', stories.bin], ['f32 GGUF', stories.f32], ['f16 GGUF', stories.f16]] as const) {
      it.skipIf(!nativeAvailable())(`native: ${name} greedy from BOS gives node-llama-cpp's 200 tokens (f32 GGUF) and llama2.c's opening`, async () => {
        const l = await open(path, 'native');
        const r = l.engine.generate('', { temperature: 0, maxTokens: STEPS });
        expect(r.tokens).toEqual(f32Tokens);
        expect(r.text.startsWith(STORIES_OPENING)).toBe(true);
      });
    }

    it.skipIf(!nativeAvailable())('native: q8_0 GGUF gives exactly node-llama-cpp\'s tokens on that file', async () => {
      const l = await open(stories.q8, 'native');
      const r = l.engine.generate('', { temperature: 0, maxTokens: STEPS });
      expect(r.tokens).toEqual(q8Tokens);
    });

    it('js backend: .bin greedy from BOS matches the first 48 tokens', async () => {
      const l = await open(stories.bin, 'js');
      const r = l.engine.generate('', { temperature: 0, maxTokens: 48 });
      expect(r.tokens).toEqual(f32Tokens.slice(0, 48));
    });

    it.skipIf(!nativeAvailable())('a prompt is encoded as llama.cpp encodes it (BOS + dummy-prefix space) and continues identically', async () => {
      const prompt = 'Once upon a time, there was a dog';
      const l = await open(stories.f32, 'native');
      const ids = l.engine.encode(prompt);
      const { oracleModel } = await import('./llama-cpp-oracle.js');
      const m = await oracleModel(stories.f32);
      expect(ids).toEqual([BOS, ...m.tokenize(prompt)]);
      const ours = l.engine.generate(prompt, { temperature: 0, maxTokens: 40 });
      const theirs = await oracleGreedy(stories.f32, ids, 40);
      expect(ours.tokens).toEqual(theirs.tokens);
      expect(ours.usage.promptTokens).toBe(ids.length);
    });
  });

  it.skipIf(!nativeAvailable())('logits of the .bin and the f32 GGUF agree at every position (max |Δ| < 1e-4)', () => {
    const backend = getBackend('native');
    const a = openModelFile(stories.bin);
    const b = openModelFile(stories.f32);
    try {
      const ma = buildTransformer(a, backend);
      const mb = buildTransformer(b, backend);
      const ids = Int32Array.from([BOS, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315]);
      const V = ma.config.vocabSize;
      const la = new Float32Array(ids.length * V);
      const lb = new Float32Array(ids.length * V);
      ma.forward(ids, 0, la);
      mb.forward(ids, 0, lb);
      expect(maxAbsDiff(la, lb)).toBeLessThan(1e-4);
    } finally {
      a.close();
      b.close();
    }
  });

  it.skipIf(!nativeAvailable())('native and js backends give the same logits (max |Δ| < 1e-3) for a batched prefill', () => {
    const f = openModelFile(stories.bin);
    try {
      const mn = buildTransformer(f, getBackend('native'));
      const mj = buildTransformer(f, getBackend('js'));
      const ids = Int32Array.from([BOS, 403, 407, 261, 378, 432, 383, 286]);
      const V = mn.config.vocabSize;
      const ln = new Float32Array(ids.length * V);
      const lj = new Float32Array(ids.length * V);
      mn.forward(ids, 0, ln);
      mj.forward(ids, 0, lj);
      expect(maxAbsDiff(ln, lj)).toBeLessThan(1e-3);
    } finally {
      f.close();
    }
  });

  it.skipIf(!nativeAvailable())('prefill in one batch equals token-by-token decode (KV cache and positions are right)', () => {
    const f = openModelFile(stories.bin);
    try {
      const m1 = buildTransformer(f, getBackend('native'));
      const m2 = buildTransformer(f, getBackend('native'), { maxBatch: 3 });
      const ids = Int32Array.from([BOS, 403, 407, 261, 378, 432, 383, 286, 261, 376]);
      const V = m1.config.vocabSize;
      const batched = new Float32Array(ids.length * V);
      m1.forward(ids, 0, batched);
      const chunked = new Float32Array(ids.length * V);
      m2.forward(ids, 0, chunked); // chunks of 3
      expect(maxAbsDiff(batched, chunked)).toBeLessThan(1e-4);
      const m3 = buildTransformer(f, getBackend('native'));
      for (let i = 0; i < ids.length; i++) {
        const l = m3.forward(ids.subarray(i, i + 1), i);
        expect(maxAbsDiff(l, batched.subarray(i * V, (i + 1) * V))).toBeLessThan(1e-4);
      }
    } finally {
      f.close();
    }
  });
});
