/**
 * Cross-attention ("Attention Is All You Need", encoder-decoder attention): the decoder's queries
 * attend to the encoder's output. Keys and values depend only on the source, so they are projected
 * once per request (`project`) and kept for the whole generation; each decoder step then costs one
 * query projection, a non-causal pass of the fused attention kernel over the N source positions,
 * and the output projection.
 */
import type { AttentionShape, Backend } from '../backend/types.js';
import type { Linear } from './linear.js';
import type { Workspace } from './workspace.js';

/** The encoder output's keys and values for one layer, [N, Hkv·D] each. */
export interface CrossKV {
  k: Float32Array;
  v: Float32Array;
  /** Source positions N. */
  length: number;
}

export interface CrossAttentionOptions {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Score scale; default 1/√headDim (T5: 1, its q projection is trained to carry the scale). */
  scale?: number;
}

export class CrossAttention {
  private readonly shape: AttentionShape;

  constructor(
    private readonly backend: Backend,
    readonly options: CrossAttentionOptions,
  ) {
    const { q, k, v, o, heads, kvHeads, headDim } = options;
    if (q.outFeatures !== heads * headDim || o.inFeatures !== heads * headDim) throw new RangeError(`tensorloom: cross-attention q/o must have ${heads} heads × ${headDim}`);
    if (k.outFeatures !== kvHeads * headDim || v.outFeatures !== kvHeads * headDim) throw new RangeError(`tensorloom: cross-attention k/v must have ${kvHeads} heads × ${headDim}`);
    this.shape = { T: 1, S: 1, H: heads, Hkv: kvHeads, D: headDim, posOffset: 0, causal: false, scale: options.scale ?? 1 / Math.sqrt(headDim) };
  }

  /** K/V of the encoder output `encoded` [N, dim]: computed once per request, then reused every step. */
  project(encoded: Float32Array, N: number): CrossKV {
    const width = this.options.kvHeads * this.options.headDim;
    const k = new Float32Array(N * width);
    const v = new Float32Array(N * width);
    this.options.k.forward(k, encoded, N);
    this.options.v.forward(v, encoded, N);
    return { k, v, length: N };
  }

  /** out[T, dim] = o(attention(q(x), kv)) for T decoder rows x [T, dim]. */
  forward(out: Float32Array, x: Float32Array, T: number, kv: CrossKV, ws: Workspace): void {
    const width = this.options.heads * this.options.headDim;
    const q = ws.rows('cross.q', T, width);
    const att = ws.rows('cross.att', T, width);
    this.options.q.forward(q, x, T);
    this.shape.T = T;
    this.shape.S = kv.length;
    this.backend.attention(att, q, kv.k, kv.v, this.shape);
    this.options.o.forward(out, att, T);
  }

  /**
   * out[R, dim] for R decoder rows of R different generations, row r attending to `kvs[r]`: the q
   * and o projections run over all rows as one matrix, the attention per row against its own source.
   */
  forwardRows(out: Float32Array, x: Float32Array, kvs: readonly CrossKV[], ws: Workspace): void {
    const R = kvs.length;
    const width = this.options.heads * this.options.headDim;
    const q = ws.rows('cross.q', R, width);
    const att = ws.rows('cross.att', R, width);
    this.options.q.forward(q, x, R);
    this.shape.T = 1;
    for (let r = 0; r < R; r++) {
      const kv = kvs[r]!;
      this.shape.S = kv.length;
      this.backend.attention(att.subarray(r * width, (r + 1) * width), q.subarray(r * width, (r + 1) * width), kv.k, kv.v, this.shape);
    }
    this.options.o.forward(out, att, R);
  }
}
