/**
 * y = x · Wᵀ (+ b). W is stored as the file stores it, `[out, in]`, in any weight dtype
 * (f32, f16, bf16, q8_0); the backend's matmulT reads it in place.
 */
import type { Backend, Weights } from '../backend/types.js';

export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    private readonly backend: Backend,
    readonly weight: Weights,
    readonly bias: Float32Array | null = null,
  ) {
    this.inFeatures = weight.cols;
    this.outFeatures = weight.rows;
    if (bias && bias.length !== weight.rows) {
      throw new RangeError(`tensorloom: Linear bias has ${bias.length} elements, expected ${weight.rows} (the weight's rows)`);
    }
  }

  /** out[M, out] = x[M, in] · Wᵀ + b. */
  forward(out: Float32Array, x: Float32Array, M: number): void {
    this.backend.matmulT(out, x, this.weight, M);
    const b = this.bias;
    if (!b) return;
    const N = this.outFeatures;
    if (M === 1) {
      this.backend.add(out, out, b);
      return;
    }
    for (let r = 0, o = 0; r < M; r++, o += N) for (let j = 0; j < N; j++) out[o + j]! += b[j]!;
  }
}
