/**
 * Sampling under a grammar without paying for a full mask on most steps.
 *
 * The plain sample is tried first (kept when the grammar allows it, as llama.cpp does). When it is
 * rejected, a full mask walks the whole vocabulary trie (tens of ms on a 32k vocabulary in a state
 * never seen before, e.g. each position of a bounded string). Instead, where the sampling settings
 * make the answer depend only on the best few tokens, those are checked one by one, best first:
 * - greedy: the first allowed token in (logit desc, id asc) order is the masked argmax;
 * - top-k (k ≤ SCAN): the first k allowed tokens are exactly the masked top-k set; the sampler then
 *   runs on them alone (min-p and top-p after it see the same candidates as after a full mask);
 * - min-p: the allowed tokens within min-p of the best allowed one are the masked min-p set;
 * - plain temperature (no truncation): rejection sampling, i.e. drawing again until the grammar
 *   allows the token, samples exactly the masked distribution.
 * Each shortcut gives the same distribution as masking first; when it cannot decide within its
 * budget (few tokens allowed, as right after '{'), the full mask runs, and it is memoised per state.
 */
import { compileGrammar, grammarFromOptions, type GrammarOptions } from '../grammar/compile.js';
import type { GrammarConstraint } from '../grammar/token-mask.js';
import type { ResolvedSampling, Sampler } from './sampler.js';
import type { GenerationTokenizer } from './types.js';

/** The grammar constraint the options ask for (grammar / jsonSchema / jsonObject), ended by `eosIds`, or null. */
export function grammarConstraint(options: GrammarOptions, tokenizer: GenerationTokenizer, eosIds: readonly number[]): GrammarConstraint | null {
  const gbnf = grammarFromOptions(options);
  if (gbnf === null) return null;
  const table = tokenizer.tokenTable?.();
  if (!table) throw new TypeError('tensorloom: this tokenizer cannot be used for grammar-constrained sampling');
  return compileGrammar(gbnf, table).start(eosIds);
}

/** Candidates examined, best first, before falling back to the full mask. */
const SCAN = 64;
/** Extra draws for rejection sampling before falling back to the full mask. */
const REDRAWS = 8;

export class ConstrainedSampler {
  private saved: Float32Array;
  private readonly top = new Int32Array(SCAN);
  private readonly allowed: number[] = [];
  /** How each step was decided: the plain sample, a shortcut, or the full mask. */
  readonly stats = { plain: 0, shortcut: 0, masked: 0 };

  constructor(
    private readonly sampler: Sampler,
    vocabSize: number,
  ) {
    this.saved = new Float32Array(vocabSize);
  }

  sample(constraint: GrammarConstraint, s: ResolvedSampling, logits: Float32Array, history: Int32Array, length: number): number {
    if (this.saved.length !== logits.length) this.saved = new Float32Array(logits.length);
    const saved = this.saved;
    saved.set(logits);
    const first = this.sampler.sample(logits, history, length); // leaves the penalized logits in `logits`
    if (constraint.allows(first)) {
      this.stats.plain++;
      return first;
    }
    this.stats.shortcut++; // undone below when the full mask runs

    if (s.temperature === 0 || (s.topK > 0 && s.topK <= SCAN) || s.minP > 0) {
      const n = topN(logits, this.top);
      const top = this.top;
      if (s.temperature === 0) {
        for (let j = 0; j < n; j++) if (constraint.allows(top[j]!)) return top[j]!;
      } else {
        const allowed = this.allowed;
        allowed.length = 0;
        let decided = false;
        if (s.topK > 0 && s.topK <= SCAN) {
          for (let j = 0; j < n && !decided; j++) {
            if (constraint.allows(top[j]!)) allowed.push(top[j]!);
            decided = allowed.length === s.topK;
          }
        } else {
          // min-p keeps logits ≥ best allowed + T·ln(minP); a margin leaves the exact cut to the sampler.
          let cutoff = -Infinity;
          for (let j = 0; j < n; j++) {
            const id = top[j]!;
            if (logits[id]! < cutoff) {
              decided = true;
              break;
            }
            if (!constraint.allows(id)) continue;
            if (allowed.length === 0) cutoff = logits[id]! + s.temperature * Math.log(s.minP) - 1e-3 * s.temperature;
            allowed.push(id);
          }
          if (!decided && n < SCAN && allowed.length > 0) decided = true; // the vocabulary itself ran out
        }
        if (decided) {
          logits.fill(-Infinity);
          for (const id of allowed) logits[id] = saved[id]!;
          return this.sampler.sample(logits, history, length);
        }
      }
    } else if (s.topP >= 1) {
      for (let k = 0; k < REDRAWS; k++) {
        logits.set(saved);
        const id = this.sampler.sample(logits, history, length);
        if (constraint.allows(id)) return id;
      }
    }
    this.stats.shortcut--;
    this.stats.masked++;
    logits.set(saved);
    constraint.apply(logits);
    return this.sampler.sample(logits, history, length);
  }
}

/**
 * The (up to) top.length largest logits, in (logit desc, id asc) order (the order in which argmax
 * picks the first maximum): one pass with a min-heap, then a sort of the few kept. Returns how many.
 */
function topN(logits: Float32Array, top: Int32Array): number {
  const k = Math.min(top.length, logits.length);
  // worse(a, b): a ranks below b
  const worse = (a: number, b: number): boolean => logits[a]! < logits[b]! || (logits[a] === logits[b] && a > b);
  const siftDown = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) return;
      const r = l + 1;
      const c = r < k && worse(top[r]!, top[l]!) ? r : l;
      if (!worse(top[c]!, top[i]!)) return;
      const t = top[c]!;
      top[c] = top[i]!;
      top[i] = t;
      i = c;
    }
  };
  for (let i = 0; i < k; i++) top[i] = i;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
  let floor = logits[top[0]!]!;
  for (let t = k; t < logits.length; t++) {
    const v = logits[t]!;
    if (v < floor || (v === floor && t > top[0]!)) continue;
    top[0] = t;
    siftDown(0);
    floor = logits[top[0]!]!;
  }
  top.subarray(0, k).sort((a, b) => logits[b]! - logits[a]! || a - b);
  return k;
}
