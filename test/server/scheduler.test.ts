/**
 * The scheduler over the toy engine (test/server/toy-engine.ts): continuous batching must give
 * every request exactly the continuation computed without any batching, whatever the mix of
 * prompt lengths, arrival times and slots; aborts free slots; the queue bound holds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortError, QueueFullError, RequestError } from '../../ts/server/errors.js';
import { Scheduler } from '../../ts/server/scheduler.js';
import { encode, expected } from './toy-engine.js';

const toyEngine = new URL('./toy-engine.ts', import.meta.url).href;

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('scheduler: prompt caching over the toy engine', () => {
  // 2 slots, so a request lands on a slot holding some earlier sequence's tokens; the toy's logits
  // hash the slot's whole history, so a wrong resume position or a stale slot changes the text.
  const run = async (s: Scheduler, prompt: string, maxTokens: number): Promise<{ tokens: number[]; ran: number }> => {
    const before = s.stats().promptTokensRun;
    const r = await s.generate(prompt, { temperature: 0, maxTokens });
    expect(r.tokens, prompt).toEqual(expected(encode(prompt, true), maxTokens).tokens);
    const ran = s.stats().promptTokensRun - before;
    // usage reports the tokens taken from the cache: what the loop did not run
    expect(r.usage.cachedPromptTokens + ran, prompt).toBe(encode(prompt, true).length);
    return { tokens: r.tokens, ran };
  };

  it('a repeated prompt runs only its last token; a continuation runs only what is new; both give the reference text', async () => {
    const s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, prefillChunk: 8 });
    try {
      const first = 'a shared system prompt, then question one';
      expect((await run(s, first, 12)).ran).toBe(encode(first, true).length);
      expect((await run(s, first, 12)).ran).toBe(1);
      // a chat's next turn: the first turn's prompt and answer, then more; the slot holds all but the answer's last token
      const answer = expected(encode(first, true), 12).text;
      const next = `${first}${answer} and then question two`;
      expect((await run(s, next, 10)).ran).toBe(encode(next, true).length - encode(first, true).length - 11);
      // a prompt sharing only the system part resumes after it (the longest prefix among the free slots)
      const other = 'a shared system prompt, then something else';
      const shared = encode('a shared system prompt, then ', true).length;
      expect((await run(s, other, 8)).ran).toBe(encode(other, true).length - shared);
      // only the BOS in common: resumes after it
      expect((await run(s, 'zzz', 5)).ran).toBe(encode('zzz', true).length - 1);
      // no BOS, nothing in common: from the start
      const ids = encode('qqq', false);
      const before = s.stats().promptTokensRun;
      expect((await s.generate(ids, { temperature: 0, maxTokens: 4 })).tokens).toEqual(expected(ids, 4).tokens);
      expect(s.stats().promptTokensRun - before).toBe(ids.length);
    } finally {
      await s.close();
    }
  });

  it('a prompt sharing only a short start takes the least recently used slot, so two conversations keep their caches', async () => {
    const s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, prefillChunk: 16 });
    try {
      const a1 = 'Tell me about the old lighthouse on the hill';
      const b1 = 'A recipe for bread, please, with rye';
      const c1 = 'Something else again, and rather long';
      const next = (prompt: string, maxTokens: number, more: string): string => `${prompt}${expected(encode(prompt, true), maxTokens).text}${more}`;
      // each held: its prompt and all but the last of its 8 output tokens
      const resumed = (prompt: string, before: string): number => encode(prompt, true).length - encode(before, true).length - 7;
      expect((await run(s, a1, 8)).ran).toBe(encode(a1, true).length);
      // B shares only the BOS with A's slot (under a tenth of its prompt): the never used slot, whole
      expect((await run(s, b1, 8)).ran).toBe(encode(b1, true).length);
      const a2 = next(a1, 8, ' and its keeper');
      expect((await run(s, a2, 8)).ran).toBe(resumed(a2, a1));
      // C evicts the least recently used slot (B's), resuming after the BOS it shares
      expect((await run(s, c1, 8)).ran).toBe(encode(c1, true).length - 1);
      const a3 = next(a2, 8, ' then?');
      expect((await run(s, a3, 8)).ran).toBe(resumed(a3, a2));
      const c2 = next(c1, 8, ' more');
      expect((await run(s, c2, 8)).ran).toBe(resumed(c2, c1));
    } finally {
      await s.close();
    }
  });

  it('16 concurrent requests over 4 slots, many sharing prefixes, each give the reference text; promptCache: false runs every prompt whole', async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => `${['alpha ', 'alpha beta ', 'gamma '][i % 3]}${'x'.repeat(i % 5)} request ${i % 6}`);
    for (const promptCache of [true, false]) {
      const s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 4, prefillChunk: 6, promptCache });
      try {
        for (let round = 0; round < 2; round++) {
          const before = s.stats().promptTokensRun;
          const rs = await Promise.all(prompts.map((p, i) => s.generate(p, { temperature: 0, maxTokens: 5 + (i % 7) })));
          rs.forEach((r, i) => expect(r.tokens, prompts[i]).toEqual(expected(encode(prompts[i]!, true), 5 + (i % 7)).tokens));
          const whole = prompts.reduce((n, p) => n + encode(p, true).length, 0);
          const ran = s.stats().promptTokensRun - before;
          expect(rs.reduce((n, r) => n + r.usage.cachedPromptTokens, 0) + ran).toBe(whole);
          if (promptCache && round === 1) expect(ran).toBeLessThan(whole);
          else if (!promptCache) expect(ran).toBe(whole);
        }
      } finally {
        await s.close();
      }
    }
  });

  it('a failed forward pass fails its request, and the cache of its slot is not reused afterwards', async () => {
    const bad = encode('!', false)[0]!;
    const s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 1, prefillChunk: 8, engineOptions: { failToken: bad } });
    try {
      // the first 8 tokens run in one step, the chunk with '!' fails the next
      const prefix = 'the same prefix, then';
      await expect(s.generate(`${prefix}!`, { temperature: 0, maxTokens: 4 })).rejects.toThrow(/forward pass failed: toy: token/);
      const before = s.stats().promptTokensRun;
      expect((await run(s, `${prefix} more`, 6)).tokens.length).toBe(6);
      expect(s.stats().promptTokensRun - before).toBe(encode(`${prefix} more`, true).length);
    } finally {
      await s.close();
    }
  });

  it('rejects a promptCache that is not a boolean', async () => {
    await expect(Scheduler.load({ model: 'toy', engineModule: toyEngine, promptCache: 'yes' as unknown as boolean })).rejects.toThrow(/promptCache must be true or false/);
  });
});

describe('scheduler: continuous batching over the toy engine', () => {
  const probe = new SharedArrayBuffer(12);
  const probeView = new Int32Array(probe);
  let s: Scheduler;
  beforeAll(async () => {
    s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 16, maxQueued: 64, prefillChunk: 24, engineOptions: { probe, stepMs: 1 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('16 concurrent greedy requests with different prompts each match the unbatched reference', async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => `request ${i}: ${'x'.repeat(i * 7)} once upon a time`);
    const lengths = prompts.map((_, i) => 20 + ((i * 13) % 40));
    const results = await Promise.all(prompts.map((p, i) => s.generate(p, { temperature: 0, maxTokens: lengths[i]! })));
    for (let i = 0; i < 16; i++) {
      const ref = expected(encode(prompts[i]!, true), lengths[i]!);
      expect(results[i]!.tokens).toEqual(ref.tokens);
      expect(results[i]!.text).toBe(ref.text);
      expect(results[i]!.finishReason).toBe('length');
      // a fresh scheduler: no slot holds anything to resume from
      expect(results[i]!.usage).toEqual({ promptTokens: encode(prompts[i]!, true).length, completionTokens: lengths[i], totalTokens: encode(prompts[i]!, true).length + lengths[i]!, cachedPromptTokens: 0 });
    }
    // They really ran together, and no step fed more than the prefill budget (decode rows count in it).
    expect(Atomics.load(probeView, 0)).toBeGreaterThan(8);
    expect(Atomics.load(probeView, 1)).toBeLessThanOrEqual(24);
  });

  it('the same request gives the same tokens alone and batched with 15 others', async () => {
    const prompt = 'the same prompt, alone or not';
    const alone = await s.generate(prompt, { temperature: 0, maxTokens: 50 });
    const crowd = Array.from({ length: 15 }, (_, i) => s.generate(`other ${i} ${'y'.repeat(i * 11)}`, { temperature: 0, maxTokens: 30 + i }));
    const batched = await s.generate(prompt, { temperature: 0, maxTokens: 50 });
    await Promise.all(crowd);
    expect(batched.tokens).toEqual(alone.tokens);
    expect(alone.tokens).toEqual(expected(encode(prompt, true), 50).tokens);
  });

  it('requests arriving while others decode join the running batch and still match', async () => {
    const runs: Promise<void>[] = [];
    for (let i = 0; i < 24; i++) {
      const prompt = `late ${i} ${'z'.repeat((i * 17) % 90)}`;
      runs.push(
        s.generate(prompt, { temperature: 0, maxTokens: 25 }).then((r) => {
          expect(r.tokens).toEqual(expected(encode(prompt, true), 25).tokens);
        }),
      );
      await new Promise((r) => setTimeout(r, 3));
    }
    await Promise.all(runs);
  });

  it('seeded sampling gives the same text for the same seed, batched or not', async () => {
    const a = await s.generate('seeded', { temperature: 0.8, seed: 42, maxTokens: 40 });
    const [b] = await Promise.all([s.generate('seeded', { temperature: 0.8, seed: 42, maxTokens: 40 }), s.generate('noise', { maxTokens: 40 })]);
    expect(b!.tokens).toEqual(a.tokens);
  });

  it('stream() yields chunks whose concatenation is the generated text; multi-byte characters are never split', async () => {
    const prompt = 'stream me';
    const ref = expected(encode(prompt, true), 120);
    const chunks: string[] = [];
    for await (const c of s.stream(prompt, { temperature: 0, maxTokens: 120 })) chunks.push(c);
    expect(chunks.join('')).toBe(ref.text);
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
  });

  it('stop strings end generation before the stop text, even across tokens', async () => {
    const prompt = 'find a stop';
    const ref = expected(encode(prompt, true), 200).text;
    const stop = ref.slice(30, 33); // three characters that occur in the reference
    const r = await s.generate(prompt, { temperature: 0, maxTokens: 200, stop: [stop, 'never-there'] });
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(ref.slice(0, ref.indexOf(stop)));
  });

  it('EOS ends a request with finishReason stop', async () => {
    const eosModel = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { eosEvery: 7 } });
    try {
      for (const p of ['a', 'b', 'c', 'd']) {
        const ref = expected(encode(p, true), 100, 7);
        const r = await eosModel.generate(p, { temperature: 0, maxTokens: 100 });
        expect(r.tokens).toEqual(ref.tokens);
        expect(r.finishReason).toBe(ref.eos ? 'stop' : 'length');
      }
    } finally {
      await eosModel.close();
    }
  });

  it('a prompt longer than the context, or max tokens past it, is a RequestError', async () => {
    await expect(s.generate('p'.repeat(300), { maxTokens: 1 })).rejects.toThrow(RequestError);
    await expect(s.generate('p'.repeat(300), { maxTokens: 1 })).rejects.toThrow(/prompt is 301 tokens but the context holds 256/);
    await expect(s.generate('short', { maxTokens: 500 })).rejects.toThrow(/max_tokens 500 .* at most 250/);
    await expect(s.generate([0, 5, 9999], { maxTokens: 1 })).rejects.toThrow(/token ids must be integers in \[0, 99\)/);
  });
});

describe('scheduler: aborts and the queue bound', () => {
  let s: Scheduler;
  beforeAll(async () => {
    s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, maxQueued: 2, engineOptions: { stepMs: 5 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('an AbortSignal settles the call at once and frees its slot', async () => {
    const ac = new AbortController();
    let text = '';
    const p = s.generate('abort me', { maxTokens: 200, onText: (t) => (text += t), signal: ac.signal });
    await waitFor(() => text.length > 3);
    expect(s.stats().slotsBusy).toBe(1);
    ac.abort();
    await expect(p).rejects.toThrow(AbortError);
    expect(s.stats().outstanding).toBe(0);
    await waitFor(() => s.stats().slotsBusy === 0, 1000);
    // The slot serves the next request correctly.
    const r = await s.generate('after abort', { temperature: 0, maxTokens: 10 });
    expect(r.tokens).toEqual(expected(encode('after abort', true), 10).tokens);
  });

  it('breaking out of stream() aborts the generation', async () => {
    let n = 0;
    for await (const _ of s.stream('break early', { maxTokens: 200 })) if (++n === 3) break;
    expect(s.stats().outstanding).toBe(0);
    await waitFor(() => s.stats().slotsBusy === 0, 1000);
  });

  it('when slots and queue are full, a new call fails with QueueFullError and a retry hint', async () => {
    const ac = new AbortController();
    const held = Array.from({ length: 4 }, (_, i) => s.generate(`hold ${i}`, { maxTokens: 200, signal: ac.signal }).catch((e: Error) => e));
    const err = await s.generate('one too many', { maxTokens: 5 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(QueueFullError);
    expect((err as QueueFullError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect((err as QueueFullError).message).toMatch(/queue is full \(2 waiting, limit 2\)/);
    ac.abort();
    for (const e of await Promise.all(held)) expect(e).toBeInstanceOf(AbortError);
    await waitFor(() => s.stats().slotsBusy === 0 && s.stats().waiting === 0, 1000);
  });

  it('drain() waits for in-flight calls, then refuses new ones', async () => {
    const s2 = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { stepMs: 2 } });
    const inflight = s2.generate('finish me', { temperature: 0, maxTokens: 30 });
    const drained = s2.drain();
    await expect(s2.generate('too late')).rejects.toThrow(/shutting down/);
    await drained;
    expect((await inflight).tokens).toEqual(expected(encode('finish me', true), 30).tokens);
    await s2.close();
  });

  it('a model that fails to load rejects Scheduler.load with the reason', async () => {
    await expect(Scheduler.load({ model: '/nonexistent/model.gguf', parallel: 1 })).rejects.toThrow(/nonexistent\/model.gguf/);
  });
});
