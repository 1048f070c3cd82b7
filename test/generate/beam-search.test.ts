/**
 * Beam search (ts/generate/beam-search.ts) against references written here, on a deterministic
 * fake model whose logits are seeded by the prefix (so any prefix can be re-scored at any time):
 *
 * - a plain reference search that keeps beams as token lists and recomputes every candidate's
 *   score from scratch (log-softmax of the logits of each of its prefixes, in f64), with the same
 *   Hugging Face rules written out directly;
 * - exhaustive search: with more beams than sequences, beam search must return the best-scored
 *   sequence of all;
 * - numBeams = 1 is greedy decoding;
 * - every returned hypothesis' sumLogprob and score are recomputed from the logits.
 * The fake model also checks the state protocol: every state released once, none used after.
 */
import { describe, expect, it } from 'vitest';
import { beamSearch, beamSearchSync, type BeamSearchModel, type BeamSearchOptions, type EarlyStopping } from '../../ts/generate/beam-search.js';

// ── the fake model ───────────────────────────────────────────────────────────────────────────

/** mulberry32 seeded by an FNV-1a hash of (seed, prefix): logits depend on the prefix only. */
function logitsFor(prefix: readonly number[], V: number, seed: number, eosBoost: number, eosIds: readonly number[]): Float32Array {
  let h = 2166136261 ^ seed;
  for (const t of [seed, ...prefix, -1]) h = Math.imul(h ^ (t & 0xffff), 16777619) >>> 0;
  let a = h;
  const out = new Float32Array(V);
  for (let i = 0; i < V; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 6 - 3;
  }
  for (const e of eosIds) out[e]! += eosBoost * (prefix.length / 4);
  return out;
}

interface FakeState {
  id: number;
  prefix: number[];
}

class FakeModel implements BeamSearchModel<FakeState> {
  private nextId = 0;
  readonly live = new Set<number>();
  steps = 0;
  constructor(
    readonly V: number,
    readonly seed: number,
    readonly eosBoost: number,
    readonly eosIds: readonly number[],
  ) {}
  logits(prefix: readonly number[]): Float32Array {
    return logitsFor(prefix, this.V, this.seed, this.eosBoost, this.eosIds);
  }
  private make(prefix: number[]): FakeState {
    const s = { id: this.nextId++, prefix };
    this.live.add(s.id);
    return s;
  }
  start() {
    return { state: this.make([]), logits: this.logits([]) };
  }
  step(states: FakeState[], tokens: number[]): Float32Array[] {
    expect(new Set(states.map((s) => s.id)).size, 'distinct states per step').toBe(states.length);
    this.steps++;
    return states.map((s, i) => {
      expect(this.live.has(s.id), `state ${s.id} is live`).toBe(true);
      expect(this.eosIds.includes(tokens[i]!), 'no EOS is fed back').toBe(false);
      s.prefix.push(tokens[i]!);
      return this.logits(s.prefix);
    });
  }
  fork(s: FakeState): FakeState {
    expect(this.live.has(s.id)).toBe(true);
    return this.make(s.prefix.slice());
  }
  release(s: FakeState): void {
    expect(this.live.has(s.id), `state ${s.id} released once`).toBe(true);
    this.live.delete(s.id);
  }
}

// ── the references ───────────────────────────────────────────────────────────────────────────

/** log p(token | prefix), recomputed from the logits in f64. */
function logprob(m: FakeModel, prefix: readonly number[], token: number): number {
  const l = Array.from(m.logits(prefix));
  const mx = Math.max(...l);
  const lse = mx + Math.log(l.reduce((s, x) => s + Math.exp(x - mx), 0));
  return l[token]! - lse;
}

/** Σ log p over a whole sequence, each term recomputed. */
function sequenceLogprob(m: FakeModel, seq: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < seq.length; i++) s += logprob(m, seq.slice(0, i), seq[i]!);
  return s;
}

interface RefHyp {
  seq: number[]; // EOS included when it ended with one
  eos: boolean;
  score: number;
}

/** The HF rules, written out plainly over token lists; every score recomputed from scratch. */
function referenceSearch(m: FakeModel, o: Required<Omit<BeamSearchOptions, 'aborted'>>): RefHyp[] {
  const { numBeams: K, maxTokens, eosIds, lengthPenalty: lp, earlyStopping } = o;
  const score = (seq: number[]) => sequenceLogprob(m, seq) / Math.pow(seq.length, lp);
  let hyps: RefHyp[] = [];
  const add = (seq: number[], eos: boolean) => {
    const h = { seq, eos, score: score(seq) };
    const worst = hyps.length ? Math.min(...hyps.map((x) => x.score)) : Infinity;
    if (hyps.length >= K && !(h.score > worst)) return;
    hyps.push(h);
    if (hyps.length > K) {
      const w = hyps.findIndex((x) => x.score === Math.min(...hyps.map((y) => y.score)));
      hyps = hyps.filter((_, i) => i !== w);
    }
  };
  let beams: number[][] = [[]];
  for (let n = 1; n <= maxTokens; n++) {
    const all: { seq: number[]; beam: number; token: number; s: number }[] = [];
    beams.forEach((b, beam) => {
      for (let t = 0; t < m.V; t++) all.push({ seq: [...b, t], beam, token: t, s: sequenceLogprob(m, [...b, t]) });
    });
    all.sort((a, b) => b.s - a.s || a.beam - b.beam || a.token - b.token);
    const top = all.slice(0, 2 * K);
    const next: number[][] = [];
    for (let rank = 0; rank < top.length && next.length < K; rank++) {
      const c = top[rank]!;
      if (eosIds.includes(c.token)) {
        if (rank < K) add(c.seq, true);
      } else next.push(c.seq);
    }
    // Can anything still beat the kept hypotheses?
    let done = false;
    if (hyps.length >= K) {
      const worst = Math.min(...hyps.map((x) => x.score));
      if (earlyStopping === true) done = true;
      else {
        const len = earlyStopping === 'never' && lp > 0 ? maxTokens : n;
        done = worst >= top[0]!.s / Math.pow(len, lp);
      }
    }
    if (done) break;
    if (n === maxTokens || next.length === 0) {
      for (const seq of next) add(seq, false);
      break;
    }
    beams = next;
  }
  return hyps.sort((a, b) => b.score - a.score);
}

// ── the cases ────────────────────────────────────────────────────────────────────────────────

interface Config {
  V: number;
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  eosIds: number[];
  maxTokens: number;
  eosBoost: number;
}

const configs: Config[] = [];
// (V = 8 with four EOS ids: EOS candidates crowd the top ranks, so the rank < numBeams rule matters)
for (const [V, eosIds] of [[7, [0]], [12, [0, 5]], [40, [3]], [9, []], [8, [0, 1, 2, 3]]] as [number, number[]][]) {
  for (const numBeams of [2, 3, 5]) {
    for (const [lengthPenalty, earlyStopping] of [[1, false], [0, true], [2, 'never'], [-0.5, false], [1, 'never'], [0.6, true]] as [number, EarlyStopping][]) {
      configs.push({ V, numBeams, lengthPenalty, earlyStopping, eosIds, maxTokens: 7, eosBoost: 1.5 });
    }
  }
}

async function run(c: Config, seed: number) {
  const m = new FakeModel(c.V, seed, c.eosBoost, c.eosIds);
  const r = await beamSearch(m, { numBeams: c.numBeams, maxTokens: c.maxTokens, eosIds: c.eosIds, lengthPenalty: c.lengthPenalty, earlyStopping: c.earlyStopping });
  expect(m.live.size, 'every state released').toBe(0);
  return { m, r };
}

describe('beam search against the plain reference (every score recomputed from the logits)', () => {
  for (const [i, c] of configs.entries()) {
    const name = `V=${c.V} eos=[${c.eosIds}] numBeams=${c.numBeams} lengthPenalty=${c.lengthPenalty} earlyStopping=${String(c.earlyStopping)}`;
    it(name, async () => {
      for (const seed of [100 + i, 900 + i]) {
        const { m, r } = await run(c, seed);
        const ref = referenceSearch(m, c);
        expect(r.hypotheses.length).toBe(ref.length);
        r.hypotheses.forEach((h, k) => {
          const seq = h.eos === null ? h.tokens : [...h.tokens, h.eos];
          expect(seq, `hypothesis ${k} (seed ${seed})`).toEqual(ref[k]!.seq);
          expect(h.eos !== null).toBe(ref[k]!.eos);
          // The reported numbers, recomputed from the logits.
          const lp = sequenceLogprob(m, seq);
          expect(h.sumLogprob).toBeCloseTo(lp, 9);
          expect(h.score).toBeCloseTo(lp / Math.pow(seq.length, c.lengthPenalty), 9);
        });
        for (let k = 1; k < r.hypotheses.length; k++) expect(r.hypotheses[k]!.score).toBeLessThanOrEqual(r.hypotheses[k - 1]!.score);
      }
    });
  }

  it('some configurations above finish on EOS and some run to maxTokens (the cases cover both)', async () => {
    let eos = 0;
    let length = 0;
    for (const [i, c] of configs.entries()) {
      const { r } = await run(c, 100 + i);
      if (r.hypotheses[0]!.eos !== null) eos++;
      else length++;
    }
    expect(eos).toBeGreaterThan(5);
    expect(length).toBeGreaterThan(5);
  });
});

describe('beam search: independent properties', () => {
  it('numBeams = 1 is greedy decoding (argmax until EOS)', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const m = new FakeModel(30, seed, 1, [0]);
      const r = await beamSearch(m, { numBeams: 1, maxTokens: 12, eosIds: [0], earlyStopping: true });
      const greedy: number[] = [];
      let ended = false;
      for (let i = 0; i < 12 && !ended; i++) {
        const l = m.logits(greedy);
        const t = l.indexOf(Math.max(...l));
        if (t === 0) ended = true;
        else greedy.push(t);
      }
      expect(r.hypotheses[0]!.tokens).toEqual(greedy);
      expect(r.hypotheses[0]!.eos).toBe(ended ? 0 : null);
    }
  });

  it('with more beams than sequences it finds the best of all sequences (exhaustive search)', async () => {
    // V = 4 with EOS 0, at most 4 tokens: 1 + 3 + 9 + 27 sequences end in EOS, 27 run to the end.
    for (const [lengthPenalty, seed] of [[1, 7], [0, 8], [2, 9], [0.5, 10]] as const) {
      const m = new FakeModel(4, seed, 1, [0]);
      const r = await beamSearch(m, { numBeams: 200, maxTokens: 4, eosIds: [0], lengthPenalty, earlyStopping: 'never' });
      let best = { seq: [] as number[], score: -Infinity };
      const visit = (prefix: number[]) => {
        for (let t = 0; t < 4; t++) {
          const seq = [...prefix, t];
          const s = sequenceLogprob(m, seq) / Math.pow(seq.length, lengthPenalty);
          if ((t === 0 || seq.length === 4) && s > best.score) best = { seq, score: s };
          if (t !== 0 && seq.length < 4) visit(seq);
        }
      };
      visit([]);
      const h = r.hypotheses[0]!;
      expect(h.eos === null ? h.tokens : [...h.tokens, h.eos], `lengthPenalty ${lengthPenalty}`).toEqual(best.seq);
      expect(h.score).toBeCloseTo(best.score, 9);
    }
  });

  it('more beams never find a worse best hypothesis here than greedy (earlyStopping never, lengthPenalty 0)', async () => {
    for (const seed of [11, 12, 13]) {
      const scores = [];
      for (const numBeams of [1, 4, 16]) {
        const m = new FakeModel(10, seed, 1, [0]);
        const r = await beamSearch(m, { numBeams, maxTokens: 5, eosIds: [0], lengthPenalty: 0, earlyStopping: 'never' });
        scores.push(r.hypotheses[0]!.score);
      }
      expect(scores[1]).toBeGreaterThanOrEqual(scores[0]! - 1e-12);
      expect(scores[2]).toBeGreaterThanOrEqual(scores[1]! - 1e-12);
    }
  });

  it('beamSearchSync gives the same hypotheses as beamSearch, and refuses a model that returns promises', async () => {
    const c = configs.find((x) => x.eosIds.length === 2 && x.numBeams === 3)!;
    const a = await run(c, 5);
    const m = new FakeModel(c.V, 5, c.eosBoost, c.eosIds);
    const b = beamSearchSync(m, { numBeams: c.numBeams, maxTokens: c.maxTokens, eosIds: c.eosIds, lengthPenalty: c.lengthPenalty, earlyStopping: c.earlyStopping });
    expect(b).toEqual(a.r);
    expect(m.live.size).toBe(0);
    const asyncModel = new FakeModel(9, 1, 0, []);
    const step = asyncModel.step.bind(asyncModel);
    asyncModel.step = (s, t) => Promise.resolve(step(s, t)) as unknown as Float32Array[];
    expect(() => beamSearchSync(asyncModel, { numBeams: 2, maxTokens: 5, eosIds: [] })).toThrow(/beamSearchSync needs a model whose start and step return values/);
  });

  it('an abort ends the search with the live beams and releases every state', async () => {
    const m = new FakeModel(20, 3, 0, []);
    let polls = 0;
    const r = await beamSearch(m, { numBeams: 3, maxTokens: 50, eosIds: [], aborted: () => ++polls > 4 });
    expect(r.aborted).toBe(true);
    expect(r.hypotheses.length).toBe(3);
    expect(r.hypotheses[0]!.tokens.length).toBe(4); // four steps ran before the fifth poll aborted
    expect(m.live.size).toBe(0);
  });

  it('a failing model step releases every state and passes the error on', async () => {
    const m = new FakeModel(20, 3, 0, []);
    const step = m.step.bind(m);
    m.step = (s, t) => (m.steps === 2 ? (() => { throw new Error('device lost'); })() : step(s, t));
    await expect(beamSearch(m, { numBeams: 3, maxTokens: 10, eosIds: [] })).rejects.toThrow(/device lost/);
    expect(m.live.size).toBe(0);
  });

  it('bad options → named errors', async () => {
    const m = new FakeModel(5, 1, 0, [0]);
    const base = { numBeams: 2, maxTokens: 4, eosIds: [0] };
    await expect(beamSearch(m, { ...base, numBeams: 0 })).rejects.toThrow(/numBeams must be an integer/);
    await expect(beamSearch(m, { ...base, numBeams: 1.5 })).rejects.toThrow(/numBeams/);
    await expect(beamSearch(m, { ...base, maxTokens: 0 })).rejects.toThrow(/maxTokens/);
    await expect(beamSearch(m, { ...base, lengthPenalty: NaN })).rejects.toThrow(/lengthPenalty must be a finite number/);
    await expect(beamSearch(m, { ...base, earlyStopping: 'sometimes' as unknown as boolean })).rejects.toThrow(/earlyStopping must be true, false or 'never'/);
    expect(m.live.size).toBe(0);
  });
});
