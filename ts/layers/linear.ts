/**
 * y = x · Wᵀ (+ b). W is stored as the file stores it, `[out, in]`, in any weight dtype
 * (f32, f16, bf16, q8_0); the backend's matmulT reads it in place.
 */
import type { Backend, Weights } from '../backend/types.js';

export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    readonly backend: Backend,
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
    this.addBias(out, M);
  }

  /** out[M, out] += b (nothing without a bias). */
  addBias(out: Float32Array, M: number): void {
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

/**
 * outs[i][M, out_i] = x[M, in] · W_iᵀ (+ b_i) for projections that read the same input: one backend
 * call (matmulTMany: x quantized once per activation type, every projection's rows in one thread-pool
 * job), each output bit-identical to its own `forward`. Biases are added afterwards.
 */
export function forwardShared(outs: readonly Float32Array[], x: Float32Array, M: number, linears: readonly Linear[]): void {
  if (linears.length === 0 || outs.length !== linears.length) throw new RangeError(`tensorloom: forwardShared needs one output per projection (${outs.length} for ${linears.length})`);
  const b = linears[0]!.backend;
  for (const l of linears) {
    if (l.inFeatures !== linears[0]!.inFeatures || l.backend !== b) throw new RangeError('tensorloom: forwardShared projections must share the input width and backend');
  }
  if (linears.length === 1) {
    linears[0]!.forward(outs[0]!, x, M);
    return;
  }
  b.matmulTMany(outs, x, linears.map((l) => l.weight), M);
  linears.forEach((l, i) => l.addBias(outs[i]!, M));
}
