/** RMSNorm (Llama): x / rms(x) · weight, row by row. */
import type { Backend } from '../backend/types.js';

export class RMSNorm {
  readonly dim: number;

  constructor(
    private readonly backend: Backend,
    readonly weight: Float32Array,
    readonly eps: number,
  ) {
    this.dim = weight.length;
  }

  /** out[rows, dim] = norm(x[rows, dim]); out may alias x. */
  forward(out: Float32Array, x: Float32Array, rows: number): void {
    this.backend.rmsnorm(out, x, this.weight, rows, this.dim, this.eps);
  }
}
