/**
 * `logprobs` / `topLogprobs` of model.generate on the committed stories260K.gguf: every reported
 * log-probability equals the log-softmax (float64) of logits recomputed independently by the
 * pure-JS backend running the same prefix step by step; the alternatives are sorted, are the true
 * top k, and the chosen token's entry agrees with its place among them. Also: the worker path
 * carries them, sampling settings (temperature, logit-free penalties) do not change them, and bad
 * values are errors naming the option.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocalDecoder as loadLocal } from '../../ts/generate/load-local.js';
import { LogprobCapture } from '../../ts/generate/logprobs.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import type { TokenLogprob } from '../../ts/generate/types.js';
import { nativeAvailable, repoRoot } from '../models/helpers.js';
import { oracleGreedy, oracleMissing, oraclePath } from '../models/llama-cpp-oracle.js';

const path = join(repoRoot, 'models', 'stories260K.gguf');
/**
 * The native kernels quantize activations and sum in another order than the JS reference: their
 * log-probabilities differ by up to ~3e-3 here. The JS-backend model checks the arithmetic tightly.
 */
const NATIVE_TOL = 1e-2;
const JS_TOL = 1e-4;
/** llama.cpp's own kernels (its activation quantization and order of sums). */
const ORACLE_TOL = 2e-2;

/** log-softmax of the JS backend's logits after each prefix prompt + generated[0, i). */
async function referenceLogSoftmax(prompt: number[], generated: number[]): Promise<Float64Array[]> {
  const ref = await loadLocal(path, { backend: 'js', contextLength: 128 });
  try {
    const m = ref.engine.model;
    const out: Float64Array[] = [];
    let logits = m.forward(Int32Array.from(prompt), 0);
    let pos = prompt.length;
    for (let i = 0; i < generated.length; i++) {
      let max = -Infinity;
      for (const x of logits) max = Math.max(max, x);
      let sum = 0;
      for (const x of logits) sum += Math.exp(x - max);
      const lse = max + Math.log(sum);
      out.push(Float64Array.from(logits, (x) => x - lse));
      logits = m.forward(Int32Array.of(generated[i]!), pos++);
    }
    return out;
  } finally {
    ref.close();
  }
}

function checkAgainst(lp: TokenLogprob[], tokens: number[], ref: Float64Array[], k: number, tol: number): void {
  expect(lp.map((e) => e.token)).toEqual(tokens);
  lp.forEach((e, i) => {
    const r = ref[i]!;
    expect(Math.abs(e.logprob - r[e.token]!), `token ${i}`).toBeLessThan(tol);
    expect(e.top).toHaveLength(k);
    const order = Array.from(r.keys()).sort((a, b) => r[b]! - r[a]! || a - b);
    e.top.forEach((t, j) => {
      expect(Math.abs(t.logprob - r[t.token]!)).toBeLessThan(tol);
      if (j > 0) expect(t.logprob).toBeLessThanOrEqual(e.top[j - 1]!.logprob);
      // the true j-th best (allowing a swap of two near-equal logits between backends)
      expect(Math.abs(r[order[j]!]! - t.logprob)).toBeLessThan(tol);
    });
    // the chosen token is among the alternatives with the same value whenever it ranks in the top k
    const hit = e.top.find((t) => t.token === e.token);
    if (hit) expect(hit.logprob).toBeCloseTo(e.logprob, 6);
    expect(e.logprob).toBeLessThanOrEqual(0);
    expect(Array.isArray(e.bytes)).toBe(true);
    expect(Buffer.from(e.bytes).toString('utf8').replace(/\uFFFD/g, '')).toBe(e.text.replace(/\uFFFD/g, ''));
  });
}

describe('model.generate logprobs (stories260K.gguf)', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(path, { worker: false, contextLength: 128, ...(nativeAvailable() ? {} : { backend: 'js' as const }) });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('greedy: logprobs equal the log-softmax of independently recomputed logits; top 5 sorted and the true top 5', async () => {
    const r = await model.generate('Once upon a time', { maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 5 });
    expect(r.logprobs).toHaveLength(r.tokens.length);
    const prompt = await model.encode('Once upon a time');
    const ref = await referenceLogSoftmax(prompt, r.tokens);
    checkAgainst(r.logprobs!, r.tokens, ref, 5, NATIVE_TOL);
    // greedy picks the most likely token: it is the first alternative
    for (const e of r.logprobs!) expect(e.top[0]!.token).toBe(e.token);
    expect(r.logprobs!.map((e) => e.text).join('')).toBe(r.text);
  });

  it('on the JS backend the same check holds to 1e-4 (only the log-softmax differs: ours in the engine, the test\'s here)', async () => {
    const js = await loadModel(path, { worker: false, contextLength: 128, backend: 'js' });
    try {
      const r = await js.generate('Once upon a time', { maxTokens: 8, temperature: 0, logprobs: true, topLogprobs: 20 });
      const ref = await referenceLogSoftmax(await js.encode('Once upon a time'), r.tokens);
      checkAgainst(r.logprobs!, r.tokens, ref, 20, JS_TOL);
    } finally {
      await js.dispose();
    }
  });

  it('sampled with penalties: still the model distribution (the sampling settings do not change the numbers)', async () => {
    const r = await model.generate('Lily saw', { maxTokens: 10, temperature: 1.5, topK: 40, presencePenalty: 1, seed: 7, logprobs: true, topLogprobs: 3 });
    const prompt = await model.encode('Lily saw');
    const ref = await referenceLogSoftmax(prompt, r.tokens);
    checkAgainst(r.logprobs!, r.tokens, ref, 3, NATIVE_TOL);
  });

  it('through the worker too; absent unless asked for; bad values are errors naming the option', async () => {
    const w = await loadModel(path, { contextLength: 128 });
    try {
      const a = await w.generate('Once upon a time', { maxTokens: 6, temperature: 0, logprobs: true });
      const b = await model.generate('Once upon a time', { maxTokens: 6, temperature: 0, logprobs: true });
      expect(a.tokens).toEqual(b.tokens);
      a.logprobs!.forEach((e, i) => expect(e.logprob).toBeCloseTo(b.logprobs![i]!.logprob, 4));
      expect(a.logprobs![0]!.top).toEqual([]);
      expect((await w.generate('Once', { maxTokens: 2 })).logprobs).toBeUndefined();
      await expect(w.generate('x', { logprobs: true, topLogprobs: 21 })).rejects.toThrow(/topLogprobs/);
      await expect(w.generate('x', { logprobs: 'yes' as unknown as boolean })).rejects.toThrow(/logprobs must be true or false/);
      await expect(w.generate('x', { topLogprobs: 2 })).rejects.toThrow(/topLogprobs needs logprobs/);
    } finally {
      await w.dispose();
    }
  });
});

describe.skipIf(!oraclePath)(`logprobs against llama.cpp's logits (node-llama-cpp) ${oraclePath ? '' : oracleMissing}`, () => {
  it('greedy on stories260K.gguf: the same tokens, and each logprob and top-5 equal the log-softmax of llama.cpp\'s logits', async () => {
    const model = await loadModel(path, { worker: false, contextLength: 128, ...(nativeAvailable() ? {} : { backend: 'js' as const }) });
    try {
      const prompt = await model.encode('Once upon a time');
      const r = await model.generate(prompt, { maxTokens: 12, temperature: 0, logprobs: true, topLogprobs: 5 });
      const oracle = await oracleGreedy(path, prompt, r.tokens.length, { logits: true, vocab: model.info.config.vocabSize, kvCacheType: 'F32' });
      expect(oracle.tokens).toEqual(r.tokens);
      const ref = oracle.logits.map((row) => {
        let max = -Infinity;
        for (const x of row) max = Math.max(max, x);
        let sum = 0;
        for (const x of row) sum += Math.exp(x - max);
        return Float64Array.from(row, (x) => x - max - Math.log(sum));
      });
      let worst = 0;
      r.logprobs!.forEach((e, i) => {
        worst = Math.max(worst, Math.abs(e.logprob - ref[i]![e.token]!), ...e.top.map((t) => Math.abs(t.logprob - ref[i]![t.token]!)));
      });
      expect(worst).toBeLessThan(ORACLE_TOL);
    } finally {
      await model.dispose();
    }
  });
});

describe('LogprobCapture', () => {
  it('the top k are sorted, lower id first on ties, and log-probabilities sum to 1 over the vocabulary', () => {
    const logits = Float32Array.from([1, 3, 3, -2, 0.5, 3, 2]);
    const c = new LogprobCapture(logits.length);
    c.capture(logits, 4);
    const e = c.entry(3);
    expect(e.top.map(([t]) => t)).toEqual([1, 2, 5, 6]);
    let total = 0;
    for (let t = 0; t < logits.length; t++) total += Math.exp(c.entry(t).logprob);
    expect(total).toBeCloseTo(1, 6);
    expect(e.logprob).toBeCloseTo(-2 - Math.log(Array.from(logits).reduce((s, x) => s + Math.exp(x), 0)), 6);
    expect(() => c.capture(logits, 21)).toThrow(/topLogprobs/);
  });
});
