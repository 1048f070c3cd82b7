/**
 * One forward pass over several sequences at once, each at its own position in its own KV-cache
 * slot — the step of continuous batching. It reuses the layer objects of a `Transformer`
 * (embeddings, norms, Linear, MLP, LM head); only the attention core differs from
 * `Attention.forward`: the Q/K/V and output projections run once over all rows (one matmul
 * with M = all tokens of the step), while the cache write and the attention kernel run per
 * sequence, against that sequence's slot.
 *
 * Row r of the step's token matrix belongs to exactly one sequence, and every op except
 * attention treats rows independently, so a sequence's result does not depend on what else is
 * in the batch — provided the backend's matmul computes a row the same way for any M. The native
 * kernels do for every M ≥ 2, but M = 1 takes a GEMV path that rounds the last bits differently.
 * Greedy tokens came out identical in all our tests anyway; `padSingleRow` runs a lone row as
 * M = 2 with a copy of itself, making the logits bit-identical alone or batched — off by default,
 * because today's M = 2 matmul costs up to ~2.4× a GEMV on the 110M model.
 */
import type { Backend } from '../backend/types.js';
import { KVCache, type KVDType } from '../layers/kv-cache.js';
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
  private readonly backend: Backend;
  private readonly ws: Workspace;
  private readonly tokens: Int32Array;
  private readonly positions: Int32Array;
  private readonly logits: Float32Array;
  private readonly pad: boolean;

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
    this.backend = model.backend;
    this.slots = o.slots;
    this.contextLength = o.contextLength;
    this.maxTokensPerStep = o.maxTokensPerStep;
    this.caches = Array.from(
      { length: o.slots },
      () => new KVCache({ layers: c.nLayers, maxSeq: o.contextLength, kvHeads: c.nKvHeads, headDim: c.headDim, dtype: o.kvCache ?? 'f32' }),
    );
    this.pad = o.padSingleRow ?? false;
    const rows = Math.max(o.maxTokensPerStep, 2);
    this.ws = new Workspace(rows);
    this.tokens = new Int32Array(rows);
    this.positions = new Int32Array(rows);
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
    const c = m.config;
    const dim = c.dim;
    let N = 0;
    let want = 0;
    for (const r of rows) {
      const n = r.tokens.length;
      if (r.slot < 0 || r.slot >= this.slots || !Number.isInteger(r.slot)) throw new RangeError(`tensorloom: slot ${r.slot} is not in [0, ${this.slots})`);
      if (n < 1) throw new RangeError('tensorloom: a batch row needs at least one token');
      if (r.pos < 0 || r.pos + n > this.contextLength) throw new RangeError(`tensorloom: positions [${r.pos}, ${r.pos + n}) do not fit a slot of ${this.contextLength}`);
      if (N + n > this.maxTokensPerStep) throw new RangeError(`tensorloom: more than ${this.maxTokensPerStep} tokens in one step`);
      this.tokens.set(r.tokens, N);
      for (let i = 0; i < n; i++) this.positions[N + i] = r.pos + i;
      N += n;
      if (r.wantLogits) want++;
    }
    if (N === 0) return this.logits.subarray(0, 0);
    // M: rows through the token-parallel ops; a lone row gets a copy of itself as row 1.
    const M = this.pad && N === 1 ? 2 : N;
    if (M > N) {
      this.tokens[1] = this.tokens[0]!;
      this.positions[1] = this.positions[0]!;
    }
    const ws = this.ws;
    const x = ws.rows('residual', M, dim);
    m.embedding.forward(x, this.tokens.subarray(0, M));
    if (m.positionEmbedding) {
      const p = ws.rows('positions', M, dim);
      m.positionEmbedding.forward(p, this.positions.subarray(0, M));
      this.backend.add(x, x, p);
    }
    const h = ws.rows('block.norm', M, dim);
    const y = ws.rows('block.out', M, dim);
    for (let l = 0; l < m.blocks.length; l++) {
      const block = m.blocks[l]!;
      block.attnNorm.forward(h, x, M);
      this.attention(l, y, h, N, M, rows);
      this.backend.add(x, x, y);
      block.mlpNorm.forward(h, x, M);
      block.mlp.forward(y, h, M, ws);
      this.backend.add(x, x, y);
    }
    for (const r of rows) this.caches[r.slot]!.length = r.pos + r.tokens.length;
    if (want === 0) return this.logits.subarray(0, 0);

    // LM head over the last token of each row that wants logits: one matmul with M = want (≥ 2 when padding).
    const W = this.pad && want === 1 ? 2 : want;
    const last = ws.rows('head.in', W, dim);
    let off = 0;
    let w = 0;
    for (const r of rows) {
      off += r.tokens.length;
      if (r.wantLogits) last.set(x.subarray((off - 1) * dim, off * dim), (w++) * dim);
    }
    if (W > want) last.copyWithin(dim, 0, dim);
    const hn = ws.rows('head.norm', W, dim);
    m.finalNorm.forward(hn, last, W);
    const out = this.logits.subarray(0, W * c.vocabSize);
    m.lmHead.forward(out, hn, W);
    return out.subarray(0, want * c.vocabSize);
  }

  /**
   * Attention of layer l: projections over all M rows at once; the cache write and the kernel
   * per sequence, for the N real rows (a padding row copies row 0's result).
   */
  private attention(l: number, out: Float32Array, h: Float32Array, N: number, M: number, rows: readonly BatchRow[]): void {
    const att = this.model.blocks[l]!.attention;
    const qDim = att.nHeads * att.headDim;
    const kvDim = att.nKvHeads * att.headDim;
    const ws = this.ws;
    const q = ws.rows('attn.q', M, qDim);
    const k = ws.rows('attn.k', M, kvDim);
    const v = ws.rows('attn.v', M, kvDim);
    const o = ws.rows('attn.out', M, qDim);
    att.q.forward(q, h, M);
    att.k.forward(k, h, M);
    att.v.forward(v, h, M);
    let off = 0;
    for (const r of rows) {
      const T = r.tokens.length;
      const qr = q.subarray(off * qDim, (off + T) * qDim);
      const kr = k.subarray(off * kvDim, (off + T) * kvDim);
      const vr = v.subarray(off * kvDim, (off + T) * kvDim);
      const or = o.subarray(off * qDim, (off + T) * qDim);
      // Cache write + kernel exactly as the single-sequence layer does it.
      att.attendCached(or, qr, kr, vr, T, r.pos, this.caches[r.slot]!, l, ws);
      off += T;
    }
    if (M > N) o.copyWithin(N * qDim, 0, qDim);
    att.o.forward(out, o, M);
  }

  dispose(): void {
    for (const c of this.caches) c.dispose();
  }
}
