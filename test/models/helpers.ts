/** Paths and small helpers shared by the model and generation tests. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import { loadModel } from '../../ts/generate/model.js';
import type { LoadModelOptions } from '../../ts/generate/load-options.js';
import type { ModelFile } from '../../ts/formats/model-file.js';
import { buildTransformer } from '../../ts/models/registry.js';
import type { Transformer } from '../../ts/models/transformer.js';
import { Scheduler } from '../../ts/server/scheduler.js';
import { storiesDir } from '../formats/helpers.js';

export { repoRoot, rewriteGGUF, shared, storiesDir, type GGUFEdit } from '../formats/helpers.js';

export const stories = {
  bin: join(storiesDir, 'stories260K.bin'),
  tok: join(storiesDir, 'tok512.bin'),
  f32: join(storiesDir, 'stories260K-f32.gguf'),
  f16: join(storiesDir, 'stories260K-f16.gguf'),
  q8: join(storiesDir, 'stories260K-q8_0.gguf'),
};
export const haveStories = existsSync(stories.bin) && existsSync(stories.f32);
export const storiesMissing = `../shared/models/stories260K not found (looked in ${storiesDir}): skipped`;

/** The text llama2.c (and llama.cpp) produce greedily from BOS on stories260K. */
export const STORIES_OPENING =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball.';

export function nativeAvailable(): boolean {
  try {
    getBackend('native');
    return true;
  } catch {
    return false;
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** max − min of a row of logits: the oracle tests state their tolerances relative to it. */
export function logitRange(l: ArrayLike<number>): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < l.length; i++) {
    lo = Math.min(lo, l[i]!);
    hi = Math.max(hi, l[i]!);
  }
  return hi - lo;
}

/** Every position's logits of `ids` fed from position 0 in one forward pass: `ids.length` rows of the vocabulary. */
export function allLogits(m: Transformer, ids: Int32Array): Float32Array {
  const out = new Float32Array(ids.length * m.config.vocabSize);
  m.forward(ids, 0, out);
  return out;
}

/** The largest |Δlogit| between the JS and native backends' models of `f` over every position of `ids` (one forward pass each). */
export function jsNativeDiff(f: ModelFile, ids: Int32Array): number {
  return maxAbsDiff(allLogits(buildTransformer(f, getBackend('js')), ids), allLogits(buildTransformer(f, getBackend('native')), ids));
}

/** The largest |Δlogit| between `ids` fed to `m` token by token from position 0 (its cache emptied first) and `all`, their logits from one pass. */
export function tokenByTokenDiff(m: Transformer, ids: Int32Array, all: Float32Array): number {
  const V = m.config.vocabSize;
  m.cache.length = 0;
  let worst = 0;
  for (let i = 0; i < ids.length; i++) worst = Math.max(worst, maxAbsDiff(m.forward(ids.subarray(i, i + 1), i), all.subarray(i * V, (i + 1) * V)));
  return worst;
}

/** The message loadModel rejects with (the file loaded and disposed: 'no error'). */
export async function loadError(path: string, options: LoadModelOptions): Promise<string> {
  try {
    const m = await loadModel(path, options);
    await m.dispose();
  } catch (e) {
    return (e as Error).message;
  }
  return 'no error';
}

/**
 * The batching server against the single-sequence path on one model: `requests` prompts of 3, 8,
 * 13, … tokens (16 of them reach 78: most outgrow a sliding window and span several prefill chunks
 * of 8) decoded greedily for `maxTokens`; all of them batched together give what generate gives,
 * and with `alone` each one alone through the server does too.
 */
export async function expectBatchingEqualsGenerate(path: string, o: { requests: number; maxTokens: number; alone: boolean }): Promise<void> {
  const prompts = Array.from({ length: o.requests }, (_, i) => Array.from({ length: 3 + i * 5 }, (_, j) => 10 + ((i * 31 + j * 7) % 400)));
  const greedy = { temperature: 0, maxTokens: o.maxTokens, ignoreEos: true };
  const s = await Scheduler.load({ model: path, parallel: o.requests, prefillChunk: 8 });
  const single = await loadModel(path, { worker: false });
  try {
    const alone: number[][] = [];
    if (o.alone) for (const p of prompts) alone.push((await s.generate(p, greedy)).tokens);
    const batched = await Promise.all(prompts.map((p) => s.generate(p, greedy)));
    for (let i = 0; i < prompts.length; i++) {
      const want = (await single.generate(prompts[i]!, greedy)).tokens;
      expect(batched[i]!.tokens, `request ${i} batched`).toEqual(want);
      if (o.alone) expect(alone[i], `request ${i} alone`).toEqual(want);
    }
  } finally {
    await s.close();
    await single.dispose();
  }
}
