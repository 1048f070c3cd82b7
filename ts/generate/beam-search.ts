/**
 * Beam search over any autoregressive model, with Hugging Face's `generate(num_beams=…)` rules:
 *
 * - each step scores every continuation of every live beam: the beam's sum of log-probabilities
 *   plus log_softmax(logits)[token]; the best 2·numBeams candidates are kept, best first;
 * - a candidate ending in an EOS id becomes a finished hypothesis (only if it ranks among the first
 *   numBeams), scored sumLogprob / length^lengthPenalty, length = generated tokens including that
 *   EOS; at most numBeams hypotheses are kept (the worst is dropped);
 * - the other candidates, best first, become the next beams until there are numBeams of them;
 * - the search ends when `earlyStopping` says so (below) or after maxTokens tokens; then the live
 *   beams join the hypotheses (length = maxTokens), and the best-scored hypothesis wins.
 *
 * earlyStopping, once numBeams hypotheses are finished: `true` stops at once; `false` stops when
 * the best candidate of this step, scored at the current length, cannot beat the worst kept
 * hypothesis (HF's heuristic); `'never'` stops only when no beam can do better at all (with
 * lengthPenalty > 0 it scores the best candidate at maxTokens, the most favourable length).
 *
 * The model is reached through `BeamSearchModel`: a state per beam (a KV cache, an encoder-decoder
 * pair of caches, or just a token list in tests), advanced one token at a time, forked when a
 * beam splits and released when it dies. Both decoder models (ts/generate/engine.ts) and
 * encoder-decoders plug in the same way.
 */

/** What beam search needs from a model. Methods may return promises (a model in a worker). */
export interface BeamSearchModel<State> {
  /** The state after the prompt (or the decoder's start token), with its next-token logits. */
  start(): BeamStart<State> | Promise<BeamStart<State>>;
  /**
   * Feeds tokens[i] to states[i] (each advances by one position; states are distinct) and returns
   * each one's next-token logits, in order. The arrays are read before the next step call and not
   * kept after it, so a model may reuse them from one step to the next (not within one step).
   */
  step(states: State[], tokens: number[]): Float32Array[] | Promise<Float32Array[]>;
  /** An independent copy of a state: a beam that continues in several ways. */
  fork(state: State): State;
  /** Frees a state no beam uses any more (every state from start/fork is released exactly once). */
  release(state: State): void;
}

export interface BeamStart<State> {
  state: State;
  logits: Float32Array;
}

export type EarlyStopping = boolean | 'never';

export interface BeamSearchOptions {
  /** Beams kept per step (≥ 1; 1 is greedy search). */
  numBeams: number;
  /** Most tokens generated, EOS included (≥ 1). */
  maxTokens: number;
  /** Ids that finish a hypothesis. Empty: every hypothesis runs to maxTokens. */
  eosIds: readonly number[];
  /** Exponent of the length in score = sumLogprob / length^lengthPenalty. Default 1. */
  lengthPenalty?: number;
  /** When to stop once numBeams hypotheses are finished (see the file comment). Default false. */
  earlyStopping?: EarlyStopping;
  /** Polled once per step; true ends the search with whatever is best so far. */
  aborted?: () => boolean;
}

export interface BeamHypothesis {
  /** Generated tokens, without the final EOS. */
  tokens: number[];
  /** The EOS id it ended with, or null (it ran to maxTokens or the search stopped). */
  eos: number | null;
  /** Σ log p of its tokens, the EOS included. */
  sumLogprob: number;
  /** sumLogprob / length^lengthPenalty, length = tokens.length (+1 with an EOS). */
  score: number;
}

export interface BeamSearchResult {
  /** The kept hypotheses (at most numBeams), best score first. */
  hypotheses: BeamHypothesis[];
  /** Model steps run (each advancing every live beam by one token). */
  steps: number;
  /** True when `aborted` ended the search. */
  aborted: boolean;
}

/** Checks beam options, naming the bad one. */
export function checkBeamOptions(o: BeamSearchOptions): Required<Omit<BeamSearchOptions, 'aborted'>> {
  if (!Number.isInteger(o.numBeams) || o.numBeams < 1 || o.numBeams > 1024) {
    throw new RangeError(`tensorloom: numBeams must be an integer in [1, 1024]; got ${String(o.numBeams)}`);
  }
  if (!Number.isInteger(o.maxTokens) || o.maxTokens < 1) throw new RangeError(`tensorloom: maxTokens must be an integer ≥ 1 for beam search; got ${String(o.maxTokens)}`);
  const lengthPenalty = o.lengthPenalty ?? 1;
  if (typeof lengthPenalty !== 'number' || !Number.isFinite(lengthPenalty)) {
    throw new RangeError(`tensorloom: lengthPenalty must be a finite number; got ${String(lengthPenalty)}`);
  }
  const earlyStopping = o.earlyStopping ?? false;
  if (earlyStopping !== true && earlyStopping !== false && earlyStopping !== 'never') {
    throw new RangeError(`tensorloom: earlyStopping must be true, false or 'never'; got ${String(earlyStopping)}`);
  }
  if (!Array.isArray(o.eosIds) || !o.eosIds.every((x) => Number.isInteger(x))) throw new TypeError('tensorloom: eosIds must be an array of integer token ids');
  return { numBeams: o.numBeams, maxTokens: o.maxTokens, eosIds: o.eosIds, lengthPenalty, earlyStopping };
}

/** A live beam: its state, the tokens so far and their summed log-probability. */
interface Beam<State> {
  state: State;
  tokens: number[];
  sumLogprob: number;
  logits: Float32Array;
}

/** A scored continuation: beam `beam` followed by `token`. */
interface Candidate {
  beam: number;
  token: number;
  sumLogprob: number;
}

/** log Σ exp(x), in f64 (−Infinity entries contribute nothing). */
function logSumExp(x: Float32Array): number {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  if (m === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** Better first: higher sumLogprob; ties go to the earlier beam, then the lower token id. */
const better = (a: Candidate, b: Candidate): number => b.sumLogprob - a.sumLogprob || a.beam - b.beam || a.token - b.token;

/**
 * The best k continuations of one beam, best first. A bounded insertion list: the global best
 * 2·numBeams over all beams are always among each beam's own best 2·numBeams.
 */
function topOfBeam(beam: number, base: number, logits: Float32Array, k: number): Candidate[] {
  const lse = logSumExp(logits);
  const top: Candidate[] = [];
  for (let t = 0; t < logits.length; t++) {
    const lp = base + (logits[t]! - lse);
    if (Number.isNaN(lp)) throw new RangeError(`tensorloom: the model's logits hold NaN (token ${t})`);
    if (lp === -Infinity) continue;
    if (top.length === k && !(lp > top[k - 1]!.sumLogprob)) continue;
    const c = { beam, token: t, sumLogprob: lp };
    let i = top.length < k ? top.length : k - 1;
    if (top.length < k) top.push(c);
    while (i > 0 && better(c, top[i - 1]!) < 0) {
      top[i] = top[i - 1]!;
      i--;
    }
    top[i] = c;
  }
  return top;
}

/** The finished hypotheses: at most numBeams, with the worst score tracked (HF's BeamHypotheses). */
class Finished {
  readonly list: BeamHypothesis[] = [];
  worst = Infinity;

  constructor(
    private readonly numBeams: number,
    private readonly lengthPenalty: number,
  ) {}

  add(tokens: number[], eos: number | null, sumLogprob: number): void {
    const length = tokens.length + (eos === null ? 0 : 1);
    const score = sumLogprob / Math.pow(length, this.lengthPenalty);
    if (this.list.length >= this.numBeams && !(score > this.worst)) return;
    this.list.push({ tokens, eos, sumLogprob, score });
    if (this.list.length > this.numBeams) {
      let w = 0;
      for (let i = 1; i < this.list.length; i++) if (this.list[i]!.score < this.list[w]!.score) w = i;
      this.list.splice(w, 1);
      this.worst = Math.min(...this.list.map((h) => h.score));
    } else {
      this.worst = Math.min(this.worst, score);
    }
  }

  /** HF's is_done: can a beam still improve the kept hypotheses? */
  done(bestSumLogprob: number, length: number, maxTokens: number, early: EarlyStopping): boolean {
    if (this.list.length < this.numBeams) return false;
    if (early === true) return true;
    const at = early === 'never' && this.lengthPenalty > 0 ? maxTokens : length;
    return this.worst >= bestSumLogprob / Math.pow(at, this.lengthPenalty);
  }
}

/** What the search asks its driver to do: start the model, or step these states by these tokens. */
type Request<State> = { kind: 'start' } | { kind: 'step'; states: State[]; tokens: number[] };
type Reply<State> = BeamStart<State> | Float32Array[];

/**
 * The search itself, as a generator that yields each start/step request and receives its answer:
 * one body serves the async driver (beamSearch) and the synchronous one (beamSearchSync).
 */
function* search<State>(model: BeamSearchModel<State>, options: BeamSearchOptions): Generator<Request<State>, BeamSearchResult, Reply<State>> {
  const { numBeams, maxTokens, eosIds, lengthPenalty, earlyStopping } = checkBeamOptions(options);
  const aborted = options.aborted ?? (() => false);
  const eos = new Set(eosIds);
  const finished = new Finished(numBeams, lengthPenalty);
  const first = (yield { kind: 'start' }) as BeamStart<State>;
  let beams: Beam<State>[] = [{ state: first.state, tokens: [], sumLogprob: 0, logits: first.logits }];
  let steps = 0;
  let stoppedEarly = false;
  let wasAborted = false;
  try {
    for (let n = 1; n <= maxTokens; n++) {
      if (aborted()) {
        wasAborted = true;
        break;
      }
      // The best 2·numBeams continuations over all live beams.
      const cands = beams.flatMap((b, i) => topOfBeam(i, b.sumLogprob, b.logits, 2 * numBeams)).sort(better).slice(0, 2 * numBeams);
      if (cands.length === 0) throw new RangeError('tensorloom: every continuation has probability 0 (all logits are −Infinity)');
      const next: Candidate[] = [];
      for (const [rank, c] of cands.entries()) {
        if (eos.has(c.token)) {
          if (rank < numBeams) finished.add(beams[c.beam]!.tokens, c.token, c.sumLogprob);
        } else {
          next.push(c);
          if (next.length === numBeams) break;
        }
      }
      const done = finished.done(cands[0]!.sumLogprob, n, maxTokens, earlyStopping);
      if (done || n === maxTokens || next.length === 0) {
        // No further model step: the chosen continuations are final (they join the hypotheses
        // below, as live beams at the end of the search do) unless the search is done.
        if (!done) for (const c of next) finished.add([...beams[c.beam]!.tokens, c.token], null, c.sumLogprob);
        stoppedEarly = true;
        break;
      }
      const parents = beams;
      beams = []; // the new beams own the parents' states from here (released below if the step fails)
      const { states, out } = branch(model, parents, next);
      let logits: Reply<State>;
      try {
        logits = yield { kind: 'step', states, tokens: next.map((c) => c.token) };
        if (!Array.isArray(logits) || logits.length !== states.length) {
          throw new RangeError(`tensorloom: the beam model's step returned ${Array.isArray(logits) ? logits.length : 'no'} logits arrays for ${states.length} states`);
        }
      } catch (e) {
        for (const st of states) model.release(st);
        throw e;
      }
      for (let i = 0; i < out.length; i++) out[i]!.logits = logits[i]!;
      beams = out;
      steps++;
    }
  } finally {
    for (const b of beams) model.release(b.state);
  }
  // An abort keeps the live beams as they stand (the best partial results).
  if (!stoppedEarly) for (const b of beams) if (b.tokens.length > 0) finished.add(b.tokens, null, b.sumLogprob);
  const hypotheses = finished.list.slice().sort((a, b) => b.score - a.score);
  return { hypotheses, steps, aborted: wasAborted };
}

/**
 * The next beams: each chosen continuation gets its parent's state (the only or last child takes
 * it over, the others fork it first), and parents without a child are released. The states are
 * not advanced yet: the caller steps them by the new beams' last tokens.
 */
function branch<State>(model: BeamSearchModel<State>, beams: Beam<State>[], next: Candidate[]): { states: State[]; out: Beam<State>[] } {
  const children = new Array<number>(beams.length).fill(0);
  for (const c of next) children[c.beam]!++;
  for (let i = 0; i < beams.length; i++) if (children[i] === 0) model.release(beams[i]!.state);
  const states: State[] = [];
  const out: Beam<State>[] = [];
  for (const c of next) {
    const parent = beams[c.beam]!;
    const state = --children[c.beam]! === 0 ? parent.state : model.fork(parent.state);
    states.push(state);
    out.push({ state, tokens: [...parent.tokens, c.token], sumLogprob: c.sumLogprob, logits: parent.logits });
  }
  return { states, out };
}

/** Runs beam search (see the file comment for the rules); the model's methods may be async. */
export async function beamSearch<State>(model: BeamSearchModel<State>, options: BeamSearchOptions): Promise<BeamSearchResult> {
  const it = search(model, options);
  let r = it.next();
  while (!r.done) {
    let reply: Reply<State>;
    try {
      reply = r.value.kind === 'start' ? await model.start() : await model.step(r.value.states, r.value.tokens);
    } catch (e) {
      r = it.throw(e);
      continue;
    }
    r = it.next(reply);
  }
  return r.value;
}

/** The same search for a model whose start and step return plain values (a model on this thread). */
export function beamSearchSync<State>(model: BeamSearchModel<State>, options: BeamSearchOptions): BeamSearchResult {
  const it = search(model, options);
  let r = it.next();
  while (!r.done) {
    let reply: Reply<State>;
    try {
      const value = r.value.kind === 'start' ? model.start() : model.step(r.value.states, r.value.tokens);
      if (value instanceof Promise) throw new TypeError('tensorloom: beamSearchSync needs a model whose start and step return values, not promises (use beamSearch)');
      reply = value;
    } catch (e) {
      r = it.throw(e);
      continue;
    }
    r = it.next(reply);
  }
  return r.value;
}
