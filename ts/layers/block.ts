/**
 * One pre-norm transformer block, updating the residual stream x in place:
 *   x += attention(norm1(x));  x += mlp(norm2(x))
 * (Llama with RMSNorm + SwiGLU, GPT-2 with LayerNorm + GELU.) With post-norms (Gemma 2/3) each
 * output is normalized before the add: x += postNorm1(attention(norm1(x))), likewise for the MLP.
 * A `tail` (Gemma 4's per-layer input and layer scale) then updates x once more.
 */
import type { Backend } from '../backend/types.js';
import type { LayerNorm } from './layernorm.js';
import type { MLP } from './mlp.js';
import type { MoE } from './moe.js';
import type { RMSNorm } from './rmsnorm.js';
import type { Step } from './step.js';
import type { FeedForward, TokenMixer } from './token-mixer.js';
import type { Workspace } from './workspace.js';

export type Norm = RMSNorm | LayerNorm;

/** A last update of a block's residual rows after the MLP (Gemma 4: per-layer input, output scale). */
export interface BlockTail {
  /** x[T, dim] of layer `layer`, modified in place. */
  forward(x: Float32Array, T: number, layer: number, ws: Workspace): void;
}

export class Block {
  constructor(
    private readonly backend: Backend,
    readonly attnNorm: Norm,
    /** Attention, or any other token mixer (a recurrent layer of a hybrid model). */
    readonly attention: TokenMixer,
    readonly mlpNorm: Norm,
    readonly mlp: MLP | MoE | FeedForward,
    readonly postAttnNorm: Norm | null = null,
    readonly postMlpNorm: Norm | null = null,
    readonly tail: BlockTail | null = null,
  ) {}

  /**
   * x[M, dim] (the residual stream of the step's rows, modified in place). With `keep` (ascending
   * row indices: the last block, see Step.outputRows) only those rows go on through the MLP, moved
   * to the front of x; returns the rows x holds afterwards.
   */
  forward(x: Float32Array, step: Step, layer: number, ws: Workspace, keep: Int32Array | null = null): number {
    let T = step.M;
    const dim = this.attnNorm.dim;
    let h = ws.rows('block.norm', T, dim);
    let y = ws.rows('block.out', T, dim);
    this.attnNorm.forward(h, x, T);
    this.attention.forward(y, h, step, layer, ws);
    if (this.postAttnNorm) this.postAttnNorm.forward(y, y, T);
    this.backend.add(x, x, y);
    // A tail reads per-row inputs by row index: with one, every row goes through and is cut at the end.
    if (keep && !this.tail) {
      T = keepRows(x, keep, dim);
      if (T === 0) return 0;
      x = x.subarray(0, T * dim);
      h = ws.rows('block.norm', T, dim);
      y = ws.rows('block.out', T, dim);
    }
    this.mlpNorm.forward(h, x, T);
    this.mlp.forward(y, h, T, ws);
    if (this.postMlpNorm) this.postMlpNorm.forward(y, y, T);
    this.backend.add(x, x, y);
    if (this.tail) {
      this.tail.forward(x, T, layer, ws);
      if (keep) T = keepRows(x, keep, dim);
    }
    return T;
  }
}

/** Moves rows `keep` (ascending) of x[·, dim] to its front, in order; returns their count. */
function keepRows(x: Float32Array, keep: Int32Array, dim: number): number {
  for (let i = 0; i < keep.length; i++) {
    const r = keep[i]!;
    if (r !== i) x.copyWithin(i * dim, r * dim, (r + 1) * dim); // r ≥ i: no row is overwritten before it moves
  }
  return keep.length;
}
