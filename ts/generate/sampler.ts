/**
 * Picks the next token from a row of logits: penalties over the recent tokens, then either
 * greedy (temperature 0) or temperature → top-k → min-p → top-p → a draw from our seeded PRNG
 * (the order Hugging Face's logits warpers use). Every buffer is allocated once per vocabulary
 * size, so sampling a token allocates nothing. Over the whole vocabulary (no top-k) the weights and
 * the draw run on the backend's sampling helpers (`sampleWeights`, `sampleDraw`): natively a 32k
 * row costs tens of microseconds where Math.exp over it cost most of a millisecond, per token.
 */
import { jsSampling } from '../backend/js/sampling.js';
import type { SamplingOps } from '../backend/types.js';
import { checkOption } from './options.js';
import { Rng, randomSeed } from './rng.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 = off (default). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off (default). */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top token's; 0 = off (default). */
  minP?: number;
  /** > 1 discourages tokens seen in the last `penaltyLastN` tokens (CTRL-style: logit / p if > 0, × p if < 0). 1 = off. */
  repetitionPenalty?: number;
  /** Subtracted once from the logit of every token seen in the window (OpenAI semantics). 0 = off. */
  presencePenalty?: number;
  /** Subtracted from a token's logit once per occurrence in the window (OpenAI semantics). 0 = off. */
  frequencyPenalty?: number;
  /** How many recent tokens (prompt included) the penalties look at. Default 64; 0 = none, -1 = whole context. */
  penaltyLastN?: number;
  /** Same seed, same prompt and same model → same text. Default: a random seed. */
  seed?: number;
}

export interface ResolvedSampling {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
  penaltyLastN: number;
  seed: number;
}

/** Checks (with the option table, ./options.ts) and fills in defaults; throws RangeError/TypeError naming the bad option. */
export function resolveSampling(o: SamplingOptions = {}): ResolvedSampling {
  const num = (name: keyof SamplingOptions, def: number): number => {
    const v = o[name];
    const problem = checkOption(name, v);
    if (problem) throw new (problem.kind === 'range' ? RangeError : TypeError)(`tensorloom: ${problem.message}`);
    return v ?? def;
  };
  return {
    temperature: num('temperature', 1),
    topK: num('topK', 0),
    topP: num('topP', 1),
    minP: num('minP', 0),
    repetitionPenalty: num('repetitionPenalty', 1),
    presencePenalty: num('presencePenalty', 0),
    frequencyPenalty: num('frequencyPenalty', 0),
    penaltyLastN: num('penaltyLastN', 64),
    seed: o.seed === undefined ? randomSeed() : num('seed', 0),
  };
}

export class Sampler {
  readonly vocabSize: number;
  private readonly counts: Int32Array;
  private readonly idx: Int32Array;
  private readonly prob: Float32Array;
  private readonly keys: Float64Array;
  private readonly idxCopy: Int32Array;
  private readonly probCopy: Float32Array;
  /** prob's f32 bits (its binade is bits >>> 23) and the mass per binade, for top-p. */
  private readonly probBits: Uint32Array;
  private readonly binadeMass = new Float64Array(256);
  private readonly f32 = new Float32Array(1);
  private readonly u32 = new Uint32Array(this.f32.buffer);
  private readonly rng = new Rng(0);
  private opts: ResolvedSampling = resolveSampling({ seed: 0 });

  /**
   * `argmax` is the backend's (native when available); it must return the first maximum.
   * `kernels`: the backend's sampling helpers (default: the plain-TS reference, ts/backend/js/sampling.ts).
   */
  constructor(
    vocabSize: number,
    private readonly argmax: (x: Float32Array) => number,
    private readonly kernels: SamplingOps = jsSampling,
  ) {
    this.vocabSize = vocabSize;
    this.counts = new Int32Array(vocabSize);
    this.idx = new Int32Array(vocabSize);
    this.prob = new Float32Array(vocabSize);
    this.keys = new Float64Array(vocabSize);
    this.idxCopy = new Int32Array(vocabSize);
    this.probCopy = new Float32Array(vocabSize);
    this.probBits = new Uint32Array(this.prob.buffer);
  }

  /** Starts a generation: new options, PRNG reseeded. */
  reset(opts: ResolvedSampling): void {
    this.opts = opts;
    this.rng.reseed(opts.seed);
  }

  /**
   * The next token. `logits` (length vocabSize) may be modified. `history[0..historyLength)` are
   * the tokens in the context so far, used by the penalties.
   */
  sample(logits: Float32Array, history: Int32Array, historyLength: number): number {
    const o = this.opts;
    if (logits.length !== this.vocabSize) throw new RangeError(`tensorloom: logits has ${logits.length} elements, expected ${this.vocabSize}`);
    if (o.repetitionPenalty !== 1 || o.presencePenalty !== 0 || o.frequencyPenalty !== 0) this.penalize(logits, history, historyLength);
    if (o.temperature === 0) return this.argmax(logits);
    return this.draw(logits);
  }

  private penalize(logits: Float32Array, history: Int32Array, n: number): void {
    const o = this.opts;
    const start = o.penaltyLastN < 0 ? 0 : Math.max(0, n - o.penaltyLastN);
    const counts = this.counts;
    for (let i = start; i < n; i++) counts[history[i]!]!++;
    for (let i = start; i < n; i++) {
      const t = history[i]!;
      const c = counts[t]!;
      if (c === 0) continue; // already applied for an earlier occurrence
      let l = logits[t]!;
      if (o.repetitionPenalty !== 1) l = l > 0 ? l / o.repetitionPenalty : l * o.repetitionPenalty;
      l -= c * o.frequencyPenalty + o.presencePenalty;
      logits[t] = l;
      counts[t] = 0;
    }
  }

  private draw(logits: Float32Array): number {
    const o = this.opts;
    const V = this.vocabSize;
    const idx = this.idx;
    const prob = this.prob;
    const invT = 1 / o.temperature;
    // A subnormal temperature: 1/T overflows, and the limit T → 0 is greedy.
    if (!Number.isFinite(invT)) return this.argmax(logits);
    const noFinite = 'tensorloom: the logits have no finite value to sample from';
    let n: number;
    let sum = 0;
    if (o.topK > 0 && o.topK < V) {
      // 1. candidates: the top k (a min-heap); 2. softmax over them at this temperature
      n = this.topK(logits, o.topK);
      let max = -Infinity;
      for (let j = 0; j < n; j++) max = Math.max(max, logits[idx[j]!]!);
      if (!Number.isFinite(max)) throw new Error(noFinite);
      for (let j = 0; j < n; j++) {
        const p = Math.exp((logits[idx[j]!]! - max) * invT);
        prob[j] = p;
        sum += p;
      }
    } else {
      // 1. every token is a candidate (idx is the identity); 2. the softmax weights on the backend
      n = V;
      sum = this.kernels.sampleWeights(prob, logits, invT);
      if (Number.isNaN(sum)) throw new Error(noFinite);
      // no truncation: the draw over prob is the token itself
      if (!(o.minP > 0) && !(o.topP < 1)) return this.kernels.sampleDraw(prob, V, this.rng.next() * sum);
      for (let i = 0; i < V; i++) idx[i] = i;
    }
    // 3. min-p: relative to the top probability (which is exp(0) = 1 before normalization)
    if (o.minP > 0) {
      let m = 0;
      sum = 0;
      for (let j = 0; j < n; j++) {
        if (prob[j]! >= o.minP) {
          idx[m] = idx[j]!;
          prob[m] = prob[j]!;
          sum += prob[m]!;
          m++;
        }
      }
      n = m;
    }
    // 4. top-p: sort descending, keep the prefix whose mass reaches p
    if (o.topP < 1 && n > 1) {
      const target = o.topP * sum;
      n = this.nucleusCandidates(n, target);
      this.sortDescending(n);
      let acc = 0;
      let m = 0;
      while (m < n) {
        acc += prob[m]!;
        m++;
        if (acc >= target) break;
      }
      n = m;
      sum = acc;
    }
    // 5. draw
    let r = this.rng.next() * sum;
    for (let j = 0; j < n; j++) {
      r -= prob[j]!;
      if (r < 0) return idx[j]!;
    }
    return idx[n - 1]!; // rounding left r ≥ 0: the last candidate
  }

  /** Fills idx[0..k) with the k largest logits (any order) using a min-heap; returns k. */
  private topK(logits: Float32Array, k: number): number {
    const h = this.idx;
    const less = (a: number, b: number): boolean => logits[a]! < logits[b]! || (logits[a] === logits[b] && a > b);
    const siftDown = (i: number): void => {
      for (;;) {
        const l = 2 * i + 1;
        if (l >= k) return;
        const r = l + 1;
        const c = r < k && less(h[r]!, h[l]!) ? r : l;
        if (!less(h[c]!, h[i]!)) return;
        const t = h[c]!;
        h[c] = h[i]!;
        h[i] = t;
        i = c;
      }
    };
    for (let i = 0; i < k; i++) h[i] = i;
    for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
    // less(h[0], t) without the call: every id in the heap is below t, so a tie never favours t
    // and the test is logits[t] > the root's logit (false for NaNs either way, as in less).
    let root = logits[h[0]!]!;
    for (let t = k; t < this.vocabSize; t++) {
      if (logits[t]! > root) {
        h[0] = t;
        siftDown(0);
        root = logits[h[0]!]!;
      }
    }
    return k;
  }

  /**
   * Keeps (in order) only the candidates that can be in the top-p nucleus, so that sorting them
   * alone gives exactly the prefix a sort of all n would: those in the f32 binades from the top
   * down to the first where the cumulative mass reaches the target (with a 1e-9 margin, far above
   * the rounding of a sum, so the sorted prefix sum reaches the target among them too). Every kept
   * candidate sorts before every dropped one, so the prefix, its order and its sum are unchanged.
   * With top-p alone a 32k vocabulary was sorted whole (~3.7 ms a token); now two passes and a
   * sort of the kept binades (~0.5 ms on a broad synthetic row, less on a peaked one).
   */
  private nucleusCandidates(n: number, target: number): number {
    const bits = this.probBits;
    const mass = this.binadeMass;
    mass.fill(0);
    const prob = this.prob;
    for (let j = 0; j < n; j++) mass[bits[j]! >>> 23]! += prob[j]!; // p ≥ 0: the sign bit is clear
    const need = target * (1 + 1e-9);
    let acc = 0;
    let b = 255;
    while (b > 0) {
      acc += mass[b]!;
      if (acc >= need) break;
      b--;
    }
    if (b === 0) return n; // the nucleus reaches the subnormals (or rounding): keep everything
    const idx = this.idx;
    let m = 0;
    for (let j = 0; j < n; j++) {
      if (bits[j]! >>> 23 >= b) {
        idx[m] = idx[j]!;
        prob[m] = prob[j]!;
        m++;
      }
    }
    return m;
  }

  /**
   * Sorts (idx, prob)[0..n) by probability, largest first (ties: lower id first), with a native
   * numeric sort on packed keys: (inverted f32 bits of p) · 2^20 + position — exact in a double.
   */
  private sortDescending(n: number): void {
    const keys = this.keys.subarray(0, n);
    for (let j = 0; j < n; j++) {
      this.f32[0] = this.prob[j]!;
      keys[j] = (0xffffffff - this.u32[0]!) * 1048576 + j;
    }
    keys.sort();
    const idx = this.idx;
    const prob = this.prob;
    const oldIdx = this.idxCopy;
    const oldProb = this.probCopy;
    oldIdx.set(idx.subarray(0, n));
    oldProb.set(prob.subarray(0, n));
    for (let j = 0; j < n; j++) {
      const from = keys[j]! % 1048576;
      idx[j] = oldIdx[from]!;
      prob[j] = oldProb[from]!;
    }
  }
}
