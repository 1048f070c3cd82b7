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
 * Projections that read the same input, run as one backend call: outs[i][M, out_i] = x · W_iᵀ (+ b_i)
 * through matmulTMany (x quantized once per activation type, every projection's rows in one
 * thread-pool job), each output bit-identical to its own `forward`; biases are added afterwards.
 * The weights list is built once and the outputs list kept while the buffers stay the same, so a
 * layer calling this every token allocates nothing and the backend can reuse its checked call.
 */
export class SharedProjections {
  private readonly weights: readonly Weights[];
  private outs: Float32Array[] = [];

  constructor(readonly linears: readonly Linear[]) {
    const first = linears[0];
    if (!first) throw new RangeError('tensorloom: SharedProjections needs at least one projection');
    for (const l of linears) {
      if (l.inFeatures !== first.inFeatures || l.backend !== first.backend) throw new RangeError('tensorloom: shared projections must have the same input width and backend');
    }
    this.weights = linears.map((l) => l.weight);
  }

  /** outs[i] = projection i of x [M, in]; `outs` in the order of the constructor's projections. */
  forward(outs: readonly Float32Array[], x: Float32Array, M: number): void {
    const n = this.linears.length;
    if (outs.length !== n) throw new RangeError(`tensorloom: ${n} shared projections need ${n} outputs, got ${outs.length}`);
    if (n === 1) {
      this.linears[0]!.forward(outs[0]!, x, M);
      return;
    }
    if (this.outs.length !== n || outs.some((o, i) => o !== this.outs[i])) this.outs = [...outs];
    this.linears[0]!.backend.matmulTMany(this.outs, x, this.weights, M);
    this.linears.forEach((l, i) => l.addBias(this.outs[i]!, M));
  }
}
