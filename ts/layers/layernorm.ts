/** LayerNorm (GPT-2): (x − mean) / √(var + eps) · weight + bias, row by row. */
import type { Backend } from '../backend/types.js';

export class LayerNorm {
  readonly dim: number;

  constructor(
    private readonly backend: Backend,
    readonly weight: Float32Array,
    readonly bias: Float32Array | null,
    readonly eps: number,
  ) {
    this.dim = weight.length;
    if (bias && bias.length !== weight.length) throw new RangeError(`tensorloom: LayerNorm bias has ${bias.length} elements, expected ${weight.length}`);
  }

  /** out[rows, dim] = norm(x[rows, dim]); out may alias x. */
  forward(out: Float32Array, x: Float32Array, rows: number): void {
    this.backend.layernorm(out, x, this.weight, this.bias, rows, this.dim, this.eps);
  }
}
