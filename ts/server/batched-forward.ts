/**
 * One step of continuous batching: several sequences at once, each at its own position in its own
 * KV-cache slot. It builds a multi-sequence `Step` (ts/layers/step.ts) and runs it through the
 * model's one forward pass (`Transformer.runStep`): the projections, norms and MLP run once over
 * all rows (one matmul with M = all tokens of the step), the cache write and attention per
 * sequence against its slot. The last block's MLP and the LM head run only over the last row of
 * each sequence that wants logits (Step.outputRows).
 *
 * A sequence's result does not depend on what else is in the batch — provided the backend's
 * matmul computes a row the same way for any M. The native kernels do for every M ≥ 2, but M = 1
 * takes a GEMV path that rounds the last bits differently. Greedy tokens came out identical in all
 * our tests anyway; `padSingleRow` runs a lone row as M = 2 with a copy of itself, making the
 * logits bit-identical alone or batched — off by default, because today's M = 2 matmul costs up to
 * ~2.4× a GEMV on the 110M model.
 */
import { KVCache, type KVDType } from '../layers/kv-cache.js';
import type { Step, StepSequence } from '../layers/step.js';
import { Workspace } from '../layers/workspace.js';
import type { Transformer } from '../models/transformer.js';
import type { BatchRow } from './engine.js';

export interface BatchedForwardOptions {
  /** Sequences held at once (one KV-cache slot each). */
  slots: number;
  /** Positions per slot. */
  contextLength: number;
  /** Most token rows in one step (decode rows + prompt chunks). */
  maxTokensPerStep: number;
  kvCache?: KVDType;
  /** Run single-row matmuls as two rows (see above). Default false. */
  padSingleRow?: boolean;
}

export class BatchedForward {
  readonly slots: number;
  readonly contextLength: number;
  readonly maxTokensPerStep: number;
  readonly caches: KVCache[];
  private readonly ws: Workspace;
  private readonly step: Step;
  private readonly logits: Float32Array;
  private readonly pad: boolean;
  /** Step.outputRows of each step. */
  private readonly keep: Int32Array;

  constructor(
    readonly model: Transformer,
    o: BatchedForwardOptions,
  ) {
    const c = model.config;
    for (const k of ['slots', 'contextLength', 'maxTokensPerStep'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`tensorloom: ${k} must be an integer ≥ 1, got ${o[k]}`);
    }
    if (c.rope === null && o.contextLength > c.contextLength) {
      throw new RangeError(`tensorloom: contextLength ${o.contextLength} exceeds the ${c.contextLength} learned positions of this model`);
    }
    this.slots = o.slots;
    this.contextLength = o.contextLength;
    this.maxTokensPerStep = o.maxTokensPerStep;
    this.caches = Array.from({ length: o.slots }, () => model.createCache(o.contextLength, o.kvCache ?? 'f32', o.maxTokensPerStep));
    this.pad = o.padSingleRow ?? false;
    const rows = Math.max(o.maxTokensPerStep, 2);
    this.ws = new Workspace(rows);
    this.step = { M: 0, N: 0, tokens: new Int32Array(rows), positions: new Int32Array(rows), sequences: [] };
    this.keep = new Int32Array(rows);
    this.logits = new Float32Array(Math.max(o.slots, 2) * c.vocabSize);
  }

  /** Bytes of KV cache over all slots. */
  get kvBytes(): number {
    return this.caches.reduce((s, c) => s + c.bytes, 0);
  }

  /**
   * Runs every row's tokens; returns the last-token logits of the rows with wantLogits, in row
   * order, as [n, vocab] (a view the next call overwrites).
   */
  forward(rows: readonly BatchRow[]): Float32Array {
    const m = this.model;
    const V = m.config.vocabSize;
    const st = this.step;
    const sequences: StepSequence[] = [];
    let N = 0;
    let want = 0;
    for (const r of rows) {
      const n = r.tokens.length;
      if (r.slot < 0 || r.slot >= this.slots || !Number.isInteger(r.slot)) throw new RangeError(`tensorloom: slot ${r.slot} is not in [0, ${this.slots})`);
      if (n < 1) throw new RangeError('tensorloom: a batch row needs at least one token');
      if (r.pos < 0 || r.pos + n > this.contextLength) throw new RangeError(`tensorloom: positions [${r.pos}, ${r.pos + n}) do not fit a slot of ${this.contextLength}`);
      if (N + n > this.maxTokensPerStep) throw new RangeError(`tensorloom: more than ${this.maxTokensPerStep} tokens in one step`);
      st.tokens.set(r.tokens, N);
      for (let i = 0; i < n; i++) st.positions[N + i] = r.pos + i;
      sequences.push({ offset: N, T: n, pos: r.pos, cache: this.caches[r.slot]! });
      N += n;
      if (r.wantLogits) want++;
    }
    if (N === 0) return this.logits.subarray(0, 0);
    // M: rows through the token-parallel ops; a lone row gets a copy of itself as row 1.
    const M = this.pad && N === 1 ? 2 : N;
    if (M > N) {
      st.tokens[1] = st.tokens[0]!;
      st.positions[1] = st.positions[0]!;
    }
    st.M = M;
    st.N = N;
    st.sequences = sequences;
    // Only the last row of each sequence that wants logits is read: the last block's MLP and the LM
    // head run over those W rows. Padding keeps a second row beside a lone one (both matmuls M ≥ 2);
    // `first` is where the wanted rows start among the kept ones.
    const keep = this.keep;
    let w = 0;
    sequences.forEach((s, i) => {
      if (rows[i]!.wantLogits) keep[w++] = s.offset + s.T - 1;
    });
    let first = 0;
    if (this.pad && want === 1) {
      const r = keep[0]!;
      if (r === 0) keep[1] = 1; // row 1 exists: N ≥ 2, or M = 2 with the padding copy
      else {
        keep[0] = r - 1;
        keep[1] = r;
        first = 1;
      }
      w = 2;
    }
    st.outputRows = keep.subarray(0, w);
    const x = m.runStep(st, this.ws);
    if (want === 0) return this.logits.subarray(0, 0);
    const out = this.logits.subarray(0, w * V);
    m.logitsOf(out, x, w, this.ws);
    return out.subarray(first * V, (first + want) * V);
  }

  /** Slot `to` gets slot `from`'s first `positions` positions (n choices of one prompt: its prefill is shared). */
  copySlot(from: number, to: number, positions: number): void {
    for (const s of [from, to]) if (!Number.isInteger(s) || s < 0 || s >= this.slots) throw new RangeError(`tensorloom: slot ${s} is not in [0, ${this.slots})`);
    this.caches[to]!.copyPrefixFrom(this.caches[from]!, positions);
  }

  /** Slot `slot` resumes after its first `n` cached positions, or fewer where its cache cannot go back (BatchEngine.resumeAt). */
  resumeAt(slot: number, n: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) throw new RangeError(`tensorloom: slot ${slot} is not in [0, ${this.slots})`);
    const cache = this.caches[slot]!;
    let at = cache.reusable(Math.max(0, Math.min(n, cache.length)));
    // a recurrent state goes back only to its kept snapshot (none while serving) or to 0
    if (cache.recurrent) at = cache.recurrent.rewindTo(at);
    return at;
  }

  dispose(): void {
    for (const c of this.caches) c.dispose();
  }
}
