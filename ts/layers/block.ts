/**
 * One pre-norm transformer block, updating the residual stream x in place:
 *   x += attention(norm1(x));  x += mlp(norm2(x))
 * (Llama with RMSNorm + SwiGLU, GPT-2 with LayerNorm + GELU.)
 */
import type { Backend } from '../backend/types.js';
import type { Attention } from './attention.js';
import type { KVCache } from './kv-cache.js';
import type { LayerNorm } from './layernorm.js';
import type { MLP } from './mlp.js';
import type { RMSNorm } from './rmsnorm.js';
import type { Workspace } from './workspace.js';

export type Norm = RMSNorm | LayerNorm;

export class Block {
  constructor(
    private readonly backend: Backend,
    readonly attnNorm: Norm,
    readonly attention: Attention,
    readonly mlpNorm: Norm,
    readonly mlp: MLP,
  ) {}

  /** x[T, dim] (the residual stream, modified in place) at positions [pos, pos + T). */
  forward(x: Float32Array, T: number, pos: number, cache: KVCache, layer: number, ws: Workspace): void {
    const dim = this.attnNorm.dim;
    const h = ws.rows('block.norm', T, dim);
    const y = ws.rows('block.out', T, dim);
    this.attnNorm.forward(h, x, T);
    this.attention.forward(y, h, T, pos, cache, layer, ws);
    this.backend.add(x, x, y);
    this.mlpNorm.forward(h, x, T);
    this.mlp.forward(y, h, T, ws);
    this.backend.add(x, x, y);
  }
}
