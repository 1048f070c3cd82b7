/**
 * Sliding-window KV trimming: the sliding layers of gemma2, gemma3 and gemma4 keep a ring of
 * window + maxBatch − 1 positions (KVCache `windows`) instead of the whole context. Checked against
 * the same model keeping every position (`trimSlidingWindow: false`) on the tiny random models,
 * with maxBatch 4 so that the rings are small and wrap many times:
 * - a 60-token prompt (chunks of 4) and 40 greedy steps: the same logits (1e-5) and tokens, f32
 *   and f16 caches; the cache holds fewer bytes;
 * - going back within the ring's slack gives the full cache's logits, further back is refused with
 *   a clear error, and `reusable` says which;
 * - generate's prefix reuse resumes where the rings allow and gives a fresh run's tokens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRandomModel, type RandomArch } from '../../scripts/make-random-model.js';
import { getBackend } from '../../ts/backend/index.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel } from '../../ts/generate/model.js';
import type { KVDType } from '../../ts/layers/kv-cache.js';
import { buildTransformer } from '../../ts/models/registry.js';
import { maxAbsDiff, nativeAvailable } from './helpers.js';

const ARCHS: RandomArch[] = ['gemma2', 'gemma3', 'gemma4'];
const dir = mkdtempSync(join(tmpdir(), 'tl-swa-ring-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = (a: RandomArch) => join(dir, `${a}.gguf`);
for (const a of ARCHS) makeRandomModel({ arch: a, size: 'tiny', type: 'f32', seed: 3, gguf: path(a) });
const backend = getBackend(nativeAvailable() ? 'native' : 'js');
const PROMPT = Int32Array.from({ length: 60 }, (_, i) => (i * 53 + 11) % 500);
const opts = (kvCache: KVDType, trimSlidingWindow: boolean) => ({ contextLength: 256, maxBatch: 4, kvCache, trimSlidingWindow });

describe('sliding-window layers keep a ring of recent positions', () => {
  for (const arch of ARCHS) {
    for (const kv of ['f32', 'f16'] as const) {
      it(`${arch} (${kv} cache): 60-token prompt + 40 greedy steps equal the full cache's, in fewer bytes`, () => {
        const f = openModelFile(path(arch));
        try {
          const full = buildTransformer(f, backend, opts(kv, false));
          const ring = buildTransformer(f, backend, opts(kv, true));
          const w = ring.config.slidingWindow!;
          const sliding = w.layers!.findIndex((x) => x);
          expect(ring.cache.ring(sliding)).toEqual({ window: w.size, capacity: w.size + 3 });
          expect(full.cache.ring(sliding)).toBeNull();
          expect(ring.cache.bytes).toBeLessThan(full.cache.bytes);
          const V = full.config.vocabSize;
          const a = new Float32Array(PROMPT.length * V);
          const b = new Float32Array(PROMPT.length * V);
          full.forward(PROMPT, 0, a);
          ring.forward(PROMPT, 0, b);
          expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
          let la = full.forward(PROMPT.subarray(59), 59);
          let lb = ring.forward(PROMPT.subarray(59), 59);
          for (let i = 0; i < 40; i++) {
            expect(maxAbsDiff(la, lb)).toBeLessThan(1e-5);
            const t = backend.argmax(la);
            expect(backend.argmax(lb)).toBe(t);
            la = full.forward(Int32Array.of(t), 60 + i);
            lb = ring.forward(Int32Array.of(t), 60 + i);
          }
        } finally {
          f.close();
        }
      });
    }
  }

  it('going back: within the slack the logits match, further back is refused by name', () => {
    const f = openModelFile(path('gemma3'));
    try {
      const full = buildTransformer(f, backend, opts('f32', false));
      const ring = buildTransformer(f, backend, opts('f32', true));
      full.forward(PROMPT, 0);
      ring.forward(PROMPT, 0);
      // the ring holds positions [60 − 19, 60): resuming at p needs [p − 15, p)
      expect(ring.cache.reusable(56)).toBe(56);
      expect(ring.cache.reusable(55)).toBe(0);
      expect(full.cache.reusable(10)).toBe(10);
      const alt = Int32Array.of(7, 8, 9, 10);
      expect(maxAbsDiff(ring.forward(alt, 56), full.forward(alt, 56))).toBeLessThan(1e-5);
      expect(() => ring.forward(alt, 40)).toThrow(/sliding-window cache of layer 0 no longer holds positions \[25, 40\)/);
    } finally {
      f.close();
    }
  });

  it('generate reuses a shared prefix where the rings allow, and matches a fresh run', async () => {
    const m = await loadModel(path('gemma3'), { worker: false, backend: backend.name, ...opts('f32', true) });
    const fresh = await loadModel(path('gemma3'), { worker: false, backend: backend.name, ...opts('f32', false) });
    try {
      const first = Array.from(PROMPT);
      await m.generate(first, { temperature: 0, maxTokens: 8, ignoreEos: true });
      // shares 58 of 60 prompt tokens: after 60 + 8 positions the rings no longer hold [43, 58)
      const second = [...first.slice(0, 58), 3, 4];
      const r = await m.generate(second, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(r.usage.cachedPromptTokens).toBe(0);
      expect(r.tokens).toEqual((await fresh.generate(second, { temperature: 0, maxTokens: 8, ignoreEos: true })).tokens);
      // a continuation of the last run: everything cached is reusable
      const third = [...second, ...r.tokens.slice(0, 7), 5];
      const r3 = await m.generate(third, { temperature: 0, maxTokens: 8, ignoreEos: true });
      expect(r3.usage.cachedPromptTokens).toBe(67);
      expect(r3.tokens).toEqual((await fresh.generate(third, { temperature: 0, maxTokens: 8, ignoreEos: true })).tokens);
    } finally {
      await m.dispose();
      await fresh.dispose();
    }
  });
});
