/**
 * The batching scheduler's `n` choices and `logprobs`, on the committed stories260K.gguf:
 * - n choices at temperature 0 all equal the single request's output; the prompt ran once
 *   (the worker's prompt-token counter and /metrics' tensorloom_prompt_tokens_computed_total);
 * - with a seed and temperature > 0 the choices differ, choice 0 is the single seeded request, and
 *   a rerun gives the same set;
 * - logprobs equal the log-softmax of logits recomputed independently by the JS backend running the
 *   same prefix; top alternatives sorted; each choice of an n > 1 request carries its own;
 * - an engine without copySlot (the toy engine with noCopySlot) still answers n > 1 correctly,
 *   running the prompt once per choice; n beyond the slots is refused naming `n`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadLocalDecoder as loadLocal } from '../../ts/generate/load-local.js';
import { Scheduler } from '../../ts/server/scheduler.js';
import { repoRoot } from '../models/helpers.js';
import { toyEngine as toyEngineUrl } from './helpers.js';
import { encode, expected } from './toy-engine.js';

const model = join(repoRoot, 'models', 'stories260K.gguf');
const PROMPT = 'Once upon a time';

/** log-softmax rows of the JS backend after each prefix prompt + tokens[0, i). */
async function reference(prompt: number[], tokens: number[]): Promise<Float64Array[]> {
  const ref = await loadLocal(model, { backend: 'js', contextLength: 128 });
  try {
    const m = ref.engine.model;
    const rows: Float64Array[] = [];
    let logits = m.forward(Int32Array.from(prompt), 0);
    for (let i = 0; i < tokens.length; i++) {
      let max = -Infinity;
      for (const x of logits) max = Math.max(max, x);
      let sum = 0;
      for (const x of logits) sum += Math.exp(x - max);
      const lse = max + Math.log(sum);
      rows.push(Float64Array.from(logits, (x) => x - lse));
      logits = m.forward(Int32Array.of(tokens[i]!), prompt.length + i);
    }
    return rows;
  } finally {
    ref.close();
  }
}

describe('n choices and logprobs on stories260K (the real engine)', () => {
  let s: Scheduler;
  let promptIds: number[];
  beforeAll(async () => {
    // padSingleRow: a lone row runs as M = 2, so logits are bit-identical alone or batched (see batched-forward.ts)
    s = await Scheduler.load({ model, parallel: 4, threads: 1, contextLength: 128, engineOptions: { padSingleRow: true } });
    const local = await loadLocal(model, { contextLength: 16 });
    promptIds = local.engine.encode(PROMPT);
    local.close();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('temperature 0: n = 3 choices all equal the single request; the prompt ran once', async () => {
    const single = await s.generate(PROMPT, { maxTokens: 20, temperature: 0 });
    const before = s.stats().promptTokensRun;
    const r = await s.generate(PROMPT, { maxTokens: 20, temperature: 0, n: 3 });
    // once, and only its last token: the single request left the rest in its slot (prompt caching)
    expect(s.stats().promptTokensRun - before).toBe(1);
    expect(r.choices).toHaveLength(3);
    for (const [i, c] of r.choices.entries()) {
      expect(c.index).toBe(i);
      expect(c.tokens).toEqual(single.tokens);
      expect(c.text).toBe(single.text);
      expect(c.finishReason).toBe(single.finishReason);
    }
    expect(r.text).toBe(single.text);
    expect(r.usage.promptTokens).toBe(promptIds.length);
    expect(r.usage.completionTokens).toBe(3 * single.usage.completionTokens);
  });

  it('seeded sampling: choices differ, choice 0 is the single seeded request, a rerun gives the same set', async () => {
    const opts = { maxTokens: 24, temperature: 1, seed: 42, n: 4 };
    const a = await s.generate(PROMPT, opts);
    const b = await s.generate(PROMPT, opts);
    const single = await s.generate(PROMPT, { maxTokens: 24, temperature: 1, seed: 42 });
    expect(new Set(a.choices.map((c) => c.text)).size).toBeGreaterThan(1);
    expect(b.choices.map((c) => c.tokens)).toEqual(a.choices.map((c) => c.tokens));
    expect(a.choices[0]!.tokens).toEqual(single.tokens);
    // choice i is seed + i: the single request with seed 43 is choice 1
    const next = await s.generate(PROMPT, { maxTokens: 24, temperature: 1, seed: 43 });
    expect(a.choices[1]!.tokens).toEqual(next.tokens);
  });

  it('logprobs equal the JS backend\'s log-softmax of the same prefix; top alternatives sorted; every choice has its own', async () => {
    const r = await s.generate(PROMPT, { maxTokens: 10, temperature: 0.8, seed: 3, n: 2, logprobs: true, topLogprobs: 4 });
    for (const c of r.choices) {
      expect(c.logprobs).toHaveLength(c.tokens.length);
      const ref = await reference(promptIds, c.tokens);
      c.logprobs!.forEach((e, i) => {
        expect(e.token).toBe(c.tokens[i]);
        // native vs JS kernels: ~3e-3 apart on this model (activation quantization, summation order)
        expect(Math.abs(e.logprob - ref[i]![e.token]!)).toBeLessThan(1e-2);
        expect(e.top).toHaveLength(4);
        for (let j = 1; j < 4; j++) expect(e.top[j]!.logprob).toBeLessThanOrEqual(e.top[j - 1]!.logprob);
        for (const t of e.top) expect(Math.abs(t.logprob - ref[i]![t.token]!)).toBeLessThan(1e-2);
        const best = Math.max(...ref[i]!);
        expect(Math.abs(e.top[0]!.logprob - best)).toBeLessThan(1e-2);
      });
    }
    // without logprobs, none
    expect((await s.generate(PROMPT, { maxTokens: 2, temperature: 0 })).logprobs).toBeUndefined();
  });

  it('n beyond the slots and logprobs options out of range are refused, naming the field', async () => {
    await expect(s.generate(PROMPT, { maxTokens: 2, n: 5 })).rejects.toMatchObject({ param: 'n' });
    await expect(s.generate(PROMPT, { maxTokens: 2, logprobs: true, topLogprobs: 21 })).rejects.toThrow(/topLogprobs/);
    await expect(s.generate(PROMPT, { maxTokens: 2, topLogprobs: 3 })).rejects.toThrow(/topLogprobs needs logprobs/);
    await expect(s.stream(PROMPT, { n: 2 }).next()).rejects.toThrow(/n > 1/);
  });
});

describe('n choices on an engine without copySlot (toy engine)', () => {
  it('each choice runs the prompt itself and still equals the reference continuation', async () => {
    const s = await Scheduler.load({ model: 'toy', engineModule: toyEngineUrl, parallel: 4, engineOptions: { noCopySlot: true } });
    try {
      const ids = encode('hello world', true);
      const r = await s.generate('hello world', { maxTokens: 12, temperature: 0, n: 3 });
      const want = expected(ids, 12);
      for (const c of r.choices) expect(c.text).toBe(want.text);
      expect(s.stats().promptTokensRun).toBe(3 * ids.length);
    } finally {
      await s.close();
    }
  });

  it('with copySlot the toy engine runs the prompt once and every choice continues from the copied prefix', async () => {
    const s = await Scheduler.load({ model: 'toy', engineModule: toyEngineUrl, parallel: 4 });
    try {
      const ids = encode('hello world', true);
      const r = await s.generate('hello world', { maxTokens: 12, temperature: 0, n: 4 });
      const want = expected(ids, 12);
      for (const c of r.choices) expect(c.text).toBe(want.text);
      expect(s.stats().promptTokensRun).toBe(ids.length);
    } finally {
      await s.close();
    }
  });
});
