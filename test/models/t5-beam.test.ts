/**
 * Beam search wired into encoder-decoder generation (`numBeams` in generate on a T5 model;
 * ts/generate/seq2seq-beams.ts) on tiny random T5 / Flan-T5 GGUFs. The reference is the generic
 * search (checked on its own in test/generate/beam-search.test.ts) over a model that recomputes
 * every step from scratch: the source is encoded afresh and the decoder runs over the beam's whole
 * prefix (start token + tokens) in one call on a new state, so no cache and no cross K/V is
 * shared, copied or reused. Every returned beam's log-probability is recomputed from such
 * full-prefix logits, numBeams 1 is greedy, and the worker (loadModel) gives the same result.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB } from '../../scripts/make-random-encoder.js';
import { makeRandomT5, type T5Arch } from '../../scripts/make-random-t5.js';
import { beamSearchSync, type BeamSearchModel } from '../../ts/generate/beam-search.js';
import { AbortError } from '../../ts/generate/engine.js';
import { loadLocal, type LoadedModel } from '../../ts/generate/load-local.js';
import { loadModel } from '../../ts/generate/model.js';
import { Seq2SeqBeams } from '../../ts/generate/seq2seq-beams.js';
import { Seq2SeqEngine } from '../../ts/generate/seq2seq-engine.js';
import type { EncoderDecoder } from '../../ts/models/encoder-decoder.js';
import { nativeAvailable } from './helpers.js';

const haveVocab = existsSync(BGE_VOCAB);
const dir = mkdtempSync(join(tmpdir(), 'tl-t5-beam-'));
const opened: LoadedModel[] = [];
afterAll(() => {
  for (const l of opened) l.close();
  rmSync(dir, { recursive: true, force: true });
});
const SOURCE = 'translate english to german: the house is wonderful.';

function file(arch: T5Arch): string {
  const p = join(dir, `${arch}.gguf`);
  if (!existsSync(p)) makeRandomT5({ arch, size: 'tiny', seed: arch === 't5' ? 21 : 22, gguf: p });
  return p;
}

async function engineOf(arch: T5Arch): Promise<Seq2SeqEngine> {
  const l = await loadLocal(file(arch), { backend: nativeAvailable() ? 'native' : 'js', threads: 1 });
  opened.push(l);
  expect(l.engine).toBeInstanceOf(Seq2SeqEngine);
  return l.engine as Seq2SeqEngine;
}

/** The next-token logits after start token + prefix, from scratch: a fresh encoder pass and one decoder call over the whole prefix. */
function scratchLogits(model: EncoderDecoder, source: number[], prefix: number[]): Float32Array {
  const state = model.start(model.encode(Int32Array.from(source)));
  return model.decode(state, Int32Array.from([model.spec.decoderStartTokenId, ...prefix])).slice();
}

/** Every beam recomputed from scratch: its state is its token list. */
function fromScratch(model: EncoderDecoder, source: number[]): BeamSearchModel<number[]> {
  return {
    start: () => ({ state: [], logits: scratchLogits(model, source, []) }),
    step: (states, tokens) => states.map((s, i) => (s.push(tokens[i]!), scratchLogits(model, source, s))),
    fork: (s) => s.slice(),
    release: () => {},
  };
}

/** Σ log softmax(logits)[token] over the sequence, each row from a from-scratch decoder run (f64). */
function sequenceLogprob(model: EncoderDecoder, source: number[], tokens: number[]): number {
  let sum = 0;
  for (let i = 0; i < tokens.length; i++) {
    const row = scratchLogits(model, source, tokens.slice(0, i));
    let m = -Infinity;
    for (const x of row) m = Math.max(m, x);
    let z = 0;
    for (const x of row) z += Math.exp(x - m);
    sum += row[tokens[i]!]! - (m + Math.log(z));
  }
  return sum;
}

describe.skipIf(!haveVocab)(`T5 beam search (${haveVocab ? 'bge vocabulary present' : `bge vocabulary absent (${BGE_VOCAB}) → skipped`})`, () => {
  const CONFIGS = [
    { arch: 't5', numBeams: 3, lengthPenalty: 1, earlyStopping: false, maxTokens: 12, ignoreEos: false },
    { arch: 'flan-t5', numBeams: 4, lengthPenalty: 0.5, earlyStopping: 'never', maxTokens: 10, ignoreEos: false },
    { arch: 'flan-t5', numBeams: 2, lengthPenalty: 2, earlyStopping: true, maxTokens: 9, ignoreEos: true },
  ] as const;
  for (const c of CONFIGS) {
    it(`${c.arch} numBeams=${c.numBeams} lengthPenalty=${c.lengthPenalty} earlyStopping=${String(c.earlyStopping)}${c.ignoreEos ? ' ignoreEos' : ''}: the wiring equals the from-scratch reference; every beam's score recomputed`, async () => {
      const loaded = await engineOf(c.arch);
      const source = loaded.encode(SOURCE);
      // A random model seldom predicts </s>: so that hypotheses finish (and earlyStopping / the
      // length penalty matter), a token the beams produce early on is made an extra stop id.
      const probe = beamSearchSync(new Seq2SeqBeams(loaded.model, loaded.model.encode(Int32Array.from(source)), c.maxTokens), { numBeams: c.numBeams, maxTokens: c.maxTokens, eosIds: [] });
      const e = c.ignoreEos ? loaded : new Seq2SeqEngine(loaded.model, loaded.tokenizer, [probe.hypotheses.at(-1)!.tokens[3]!]);
      const eosIds = c.ignoreEos ? [] : e.eosIds;
      const r = e.generate(SOURCE, { numBeams: c.numBeams, lengthPenalty: c.lengthPenalty, earlyStopping: c.earlyStopping, maxTokens: c.maxTokens, ignoreEos: c.ignoreEos });
      const opts = { numBeams: c.numBeams, lengthPenalty: c.lengthPenalty, earlyStopping: c.earlyStopping, maxTokens: c.maxTokens, eosIds };
      const ref = beamSearchSync(fromScratch(e.model, source), opts);
      const best = ref.hypotheses[0]!;
      expect(r.tokens).toEqual(best.tokens);
      expect(r.tokens.length).toBeGreaterThan(0);
      expect(r.finishReason).toBe(best.eos === null ? 'length' : 'stop');
      expect(r.usage.promptTokens).toBe(source.length);
      const dec = e.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
      expect(r.text).toBe(r.tokens.map((t) => dec.push(t)).join('') + dec.flush());

      // The incremental model (shared cross K/V, pooled forked caches) keeps every hypothesis of the reference.
      const beams = new Seq2SeqBeams(e.model, e.model.encode(Int32Array.from(source)), c.maxTokens);
      const wired = beamSearchSync(beams, opts);
      expect(wired.hypotheses.map((h) => [h.tokens, h.eos])).toEqual(ref.hypotheses.map((h) => [h.tokens, h.eos]));
      expect(wired.hypotheses.length).toBe(c.numBeams);
      if (!c.ignoreEos) expect(wired.hypotheses.some((h) => h.eos !== null)).toBe(true);
      for (const [i, h] of wired.hypotheses.entries()) {
        const seq = h.eos === null ? h.tokens : [...h.tokens, h.eos];
        const lp = sequenceLogprob(e.model, source, seq);
        expect(h.sumLogprob, `beam ${i}`).toBeCloseTo(lp, 3);
        expect(h.score, `beam ${i}`).toBeCloseTo(lp / seq.length ** c.lengthPenalty, 3);
        expect(h.sumLogprob).toBeCloseTo(ref.hypotheses[i]!.sumLogprob, 4);
      }
      // best first
      for (let i = 1; i < wired.hypotheses.length; i++) expect(wired.hypotheses[i]!.score).toBeLessThanOrEqual(wired.hypotheses[i - 1]!.score);
    });
  }

  it('a step runs all beams as one batched decoder step: each beam\'s logits equal its own from-scratch run', async () => {
    const engine = await engineOf('flan-t5');
    const model = engine.model;
    const source = engine.encode(SOURCE);
    const beams = new Seq2SeqBeams(model, model.encode(Int32Array.from(source)), 8);
    const { state } = beams.start();
    // three beams from one parent, then two steps with different tokens each (caches diverge)
    const states = [state, beams.fork(state), beams.fork(state)];
    const prefixes: number[][] = [[], [], []];
    for (const step of [[5, 9, 17], [40, 5, 3]]) {
      const rows = beams.step(states, step);
      expect(rows).toHaveLength(3);
      step.forEach((t, i) => prefixes[i]!.push(t));
      rows.forEach((row, i) => {
        const ref = scratchLogits(model, source, prefixes[i]!);
        let diff = 0;
        let range = 0;
        for (let v = 0; v < ref.length; v++) {
          diff = Math.max(diff, Math.abs(row[v]! - ref[v]!));
          range = Math.max(range, Math.abs(ref[v]!));
        }
        expect(diff / range, `beam ${i} after ${JSON.stringify(prefixes[i])}`).toBeLessThan(1e-4);
      });
    }
    expect(beams.forwards).toBe(1 + 2 * 3);
    for (const s of states) beams.release(s);
  });

  it('numBeams 1 is greedy search (temperature 0)', async () => {
    const e = await engineOf('t5');
    const source = e.encode(SOURCE);
    const greedy = e.generate(SOURCE, { temperature: 0, maxTokens: 16, ignoreEos: true });
    const one = beamSearchSync(new Seq2SeqBeams(e.model, e.model.encode(Int32Array.from(source)), 16), { numBeams: 1, maxTokens: 16, eosIds: [] });
    expect(one.hypotheses[0]!.tokens).toEqual(greedy.tokens);
    expect(greedy.tokens.length).toBe(16);
    // generate with numBeams 1 is the ordinary (greedy at temperature 0) loop
    expect(e.generate(SOURCE, { numBeams: 1, temperature: 0, maxTokens: 16, ignoreEos: true }).tokens).toEqual(greedy.tokens);
  });

  it('refuses beam search with sampling, stop strings and grammars (the decoder path\'s checks), and a capacity past the decoder context', async () => {
    const e = await engineOf('t5');
    expect(() => e.generate(SOURCE, { numBeams: 2, temperature: 0.7 })).toThrow(/numBeams > 1 \(beam search\) takes no sampling: remove temperature/);
    expect(() => e.generate(SOURCE, { numBeams: 2, stop: ['x'] })).toThrow(/takes no stop strings/);
    expect(() => e.generate(SOURCE, { numBeams: 2, grammar: 'root ::= "a"' })).toThrow(/takes no grammars/);
    expect(() => e.generate(SOURCE, { numBeams: 0 })).toThrow(/numBeams must be an integer in \[1, 256\]/);
    expect(() => new Seq2SeqBeams(e.model, e.model.encode(Int32Array.of(5, 1)), e.model.maxTarget + 1)).toThrow(/beam capacity must be an integer/);
  });

  it('an abort during the search ends it with an AbortError holding the best beam so far', async () => {
    const e = await engineOf('t5');
    let polls = 0;
    let err: unknown;
    try {
      e.generate(SOURCE, { numBeams: 3, maxTokens: 12, ignoreEos: true }, { aborted: () => ++polls > 4 });
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(AbortError);
    const partial = (err as AbortError).partial!;
    expect(partial.tokens.length).toBeGreaterThan(0);
    expect(partial.tokens.length).toBeLessThan(12);
    const dec = e.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    expect(partial.text).toBe(partial.tokens.map((t) => dec.push(t)).join('') + dec.flush());
  });

  describe('through loadModel (worker thread)', () => {
    let model: Awaited<ReturnType<typeof loadModel>>;
    beforeAll(async () => {
      model = await loadModel(file('flan-t5'), { threads: 1 });
    });
    afterAll(async () => model?.dispose());

    it('generate with numBeams gives the in-process result; stream refuses beams', async () => {
      const e = await engineOf('flan-t5');
      const opts = { numBeams: 3, lengthPenalty: 0.8, maxTokens: 10 } as const;
      const local = e.generate(SOURCE, opts);
      const r = await model.generate(SOURCE, opts);
      expect(r.tokens).toEqual(local.tokens);
      expect(r.text).toBe(local.text);
      expect(r.finishReason).toBe(local.finishReason);
      expect(() => model.stream(SOURCE, { numBeams: 2 })).not.toThrow();
      await expect(model.stream(SOURCE, { numBeams: 2 }).result).rejects.toThrow(/cannot stream/);
      await expect(model.generate(SOURCE, { numBeams: 2, topK: 5 })).rejects.toThrow(/takes no sampling: remove topK/);
    });
  });
});
