/**
 * Beam search wired into decoder generation (`numBeams` in generate; ts/generate/decoder-beams.ts)
 * on the real stories260K model. The reference is the same generic search (checked on its own in
 * beam-search.test.ts) over a model that recomputes every beam from scratch: each step runs the
 * beam's whole sequence (prompt + tokens) through a fresh KV cache, so no cache is shared, copied
 * or reused. The wiring must give the same hypotheses, and the best one's log-probability is
 * recomputed from one full forward pass's logits.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { beamSearchSync, type BeamSearchModel } from '../../ts/generate/beam-search.js';
import { loadLocalDecoder as loadLocal } from '../../ts/generate/load-local.js';
import { loadModel } from '../../ts/index.js';
import type { Transformer } from '../../ts/models/transformer.js';
import { haveStories, nativeAvailable, stories, storiesMissing } from '../models/helpers.js';

type Loaded = Awaited<ReturnType<typeof loadLocal>>;
const opened: Loaded[] = [];
afterAll(() => {
  for (const l of opened) l.close();
});
async function open(): Promise<Loaded> {
  const l = await loadLocal(stories.f32, { backend: nativeAvailable() ? 'native' : 'js', threads: 1 });
  opened.push(l);
  return l;
}

/** Every beam recomputed from scratch: state = its tokens; logits from a full forward pass. */
function fromScratch(model: Transformer, prompt: number[]): BeamSearchModel<number[]> {
  const run = (seq: number[]) => model.forward(Int32Array.from(seq), 0, undefined, model.createCache(seq.length)).slice();
  return {
    start: () => ({ state: [], logits: run(prompt) }),
    step: (states, tokens) => states.map((s, i) => (s.push(tokens[i]!), run([...prompt, ...s]))),
    fork: (s) => s.slice(),
    release: () => {},
  };
}

/** Σ log softmax(logits)[token] over the continuation, from one forward pass over everything. */
function continuationLogprob(model: Transformer, prompt: number[], tokens: number[]): number {
  const seq = [...prompt, ...tokens];
  const V = model.config.vocabSize;
  const all = new Float32Array(seq.length * V);
  model.forward(Int32Array.from(seq), 0, all, model.createCache(seq.length));
  let s = 0;
  for (let i = 0; i < tokens.length; i++) {
    const row = Array.from(all.subarray((prompt.length - 1 + i) * V, (prompt.length + i) * V));
    const m = Math.max(...row);
    s += row[tokens[i]!]! - (m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0)));
  }
  return s;
}

describe.skipIf(!haveStories)(`beam search on stories260K ${haveStories ? '' : storiesMissing}`, () => {
  for (const [numBeams, lengthPenalty, earlyStopping, maxTokens] of [
    [3, 1, false, 14],
    [4, 0.5, 'never', 10],
    [2, 2, true, 12],
  ] as const) {
    it(`numBeams=${numBeams} lengthPenalty=${lengthPenalty} earlyStopping=${String(earlyStopping)}: the wiring equals the from-scratch reference`, async () => {
      const l = await open();
      const prompt = 'Once upon a time, there was a';
      const ids = l.engine.encode(prompt);
      const r = l.engine.generate(prompt, { numBeams, lengthPenalty, earlyStopping, maxTokens });
      const ref = beamSearchSync(fromScratch(l.engine.model, ids), { numBeams, lengthPenalty, earlyStopping, maxTokens, eosIds: l.engine.eosIds });
      const best = ref.hypotheses[0]!;
      expect(r.tokens).toEqual(best.tokens);
      expect(r.finishReason).toBe(best.eos === null ? 'length' : 'stop');
      expect(r.tokens.length).toBeGreaterThan(0);
      expect(best.sumLogprob).toBeCloseTo(continuationLogprob(l.engine.model, ids, best.eos === null ? best.tokens : [...best.tokens, best.eos]), 3);
      // The text is the tokens' text.
      const dec = l.engine.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
      for (const id of ids) dec.push(id);
      expect(r.text).toBe(r.tokens.map((t) => dec.push(t)).join('') + dec.flush());
      // The cache still serves prefix reuse: greedy afterwards equals greedy on a fresh engine.
      const after = l.engine.generate(prompt, { temperature: 0, maxTokens: 20 });
      expect(after.usage.cachedPromptTokens).toBeGreaterThan(0);
      const fresh = await open();
      expect(after.tokens).toEqual(fresh.engine.generate(prompt, { temperature: 0, maxTokens: 20 }).tokens);
    });
  }

  it('a wider beam scores at least as well as greedy (lengthPenalty 0, no early stop) on this model', async () => {
    const l = await open();
    const ids = l.engine.encode('The cat');
    const greedy = l.engine.generate('The cat', { temperature: 0, maxTokens: 8, ignoreEos: true });
    const beam = l.engine.generate('The cat', { numBeams: 4, lengthPenalty: 0, earlyStopping: 'never', maxTokens: 8, ignoreEos: true });
    expect(beam.tokens.length).toBe(8);
    expect(continuationLogprob(l.engine.model, ids, beam.tokens)).toBeGreaterThanOrEqual(continuationLogprob(l.engine.model, ids, greedy.tokens) - 1e-4);
  });

  it('through loadModel (worker thread) too, and options beam search cannot take → clear errors', async () => {
    const model = await loadModel(stories.f32, { threads: 1 });
    try {
      const l = await open();
      const r = await model.generate('Once upon a time', { numBeams: 3, maxTokens: 10 });
      expect(r.tokens).toEqual(l.engine.generate('Once upon a time', { numBeams: 3, maxTokens: 10 }).tokens);
      await expect(model.generate('x', { numBeams: 2, temperature: 0.8 })).rejects.toThrow(/numBeams > 1 \(beam search\) takes no sampling: remove temperature/);
      await expect(model.generate('x', { numBeams: 2, topK: 5 })).rejects.toThrow(/takes no sampling: remove topK/);
      await expect(model.generate('x', { numBeams: 2, stop: '.' })).rejects.toThrow(/takes no stop strings: remove stop/);
      await expect(model.generate('x', { numBeams: 2, grammar: 'root ::= "a"' })).rejects.toThrow(/takes no grammars/);
      await expect(model.generate('x', { numBeams: 2, onText: () => {} })).rejects.toThrow(/takes no streaming/);
      await expect(model.generate('x', { numBeams: 0 })).rejects.toThrow(/numBeams must be an integer in \[1, 256\]/);
      await expect(model.generate('x', { numBeams: 2, earlyStopping: 'sometimes' as 'never' })).rejects.toThrow(/earlyStopping must be true, false or 'never'/);
      const s = model.stream('x', { numBeams: 2 });
      await expect(s.result).rejects.toThrow(/cannot stream/);
      // temperature 0 (greedy-style) is accepted with beams
      expect((await model.generate('x', { numBeams: 2, temperature: 0, maxTokens: 3 })).tokens.length).toBeGreaterThan(0);
    } finally {
      await model.dispose();
    }
  });
});
