/**
 * The feed-forward half of a block.
 * - SwiGLU (Llama): down(silu(gate(x)) ⊙ up(x))
 * - GeGLU (Gemma):  down(gelu_tanh(gate(x)) ⊙ up(x))
 * - GELU (GPT-2):   down(gelu(up(x)))
 * - ReLU (T5 v1.0):  down(relu(up(x)))
 */
import type { Backend, GeluApproximation } from '../backend/types.js';
import { SharedProjections, type Linear } from './linear.js';
import type { Workspace } from './workspace.js';

export type MLPOptions =
  /** `gateUp` (optional, gated kinds): gate and up as one matrix, rows [gate | up], used for single tokens. */
  | { kind: 'swiglu'; gate: Linear; up: Linear; down: Linear; gateUp?: Linear | null }
  | { kind: 'geglu'; gate: Linear; up: Linear; down: Linear; gateUp?: Linear | null }
  | { kind: 'gelu'; up: Linear; down: Linear; approximation?: GeluApproximation }
  | { kind: 'relu'; up: Linear; down: Linear };

export class MLP {
  readonly hidden: number;

  constructor(
    private readonly backend: Backend,
    readonly options: MLPOptions,
  ) {
    const { up, down } = options;
    this.hidden = up.outFeatures;
    if (down.inFeatures !== up.outFeatures || down.outFeatures !== up.inFeatures) {
      throw new RangeError(`tensorloom: MLP down projection is [${down.outFeatures}, ${down.inFeatures}], expected [${up.inFeatures}, ${up.outFeatures}]`);
    }
    if ((options.kind === 'swiglu' || options.kind === 'geglu') && (options.gate.outFeatures !== up.outFeatures || options.gate.inFeatures !== up.inFeatures)) {
      throw new RangeError(`tensorloom: MLP gate projection is [${options.gate.outFeatures}, ${options.gate.inFeatures}], expected [${up.outFeatures}, ${up.inFeatures}]`);
    }
    const gu = options.kind === 'swiglu' || options.kind === 'geglu' ? options.gateUp : null;
    if (gu && (gu.outFeatures !== 2 * up.outFeatures || gu.inFeatures !== up.inFeatures)) {
      throw new RangeError(`tensorloom: MLP fused gate/up projection is [${gu.outFeatures}, ${gu.inFeatures}], expected [${2 * up.outFeatures}, ${up.inFeatures}]`);
    }
  }

  private halvesOf: Float32Array | null = null;
  private halves: [Float32Array, Float32Array] | null = null;
  /** Single-token gate and up from the separate matrices as one backend call. */
  private gateUpShared: SharedProjections | null = null;

  /** out[T, dim] = mlp(x[T, dim]). */
  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void {
    const o = this.options;
    if (o.kind === 'swiglu' || o.kind === 'geglu') {
      const [g, u] = this.gateAndUp(o, x, T, ws);
      if (o.kind === 'swiglu') this.backend.swiglu(g, g, u);
      else {
        this.backend.gelu(g, g, 'tanh');
        this.backend.mul(g, g, u);
      }
      o.down.forward(out, g, T);
      return;
    }
    const u = ws.rows('mlp.up', T, this.hidden);
    o.up.forward(u, x, T);
    if (o.kind === 'relu') this.backend.relu(u, u);
    else this.backend.gelu(u, u, o.approximation ?? 'tanh');
    o.down.forward(out, u, T);
  }

  /**
   * gate(x) and up(x) of the gated kinds: a single token through the fused [gate | up] matrix when
   * the model has one, else through both matrices in one backend call (the input quantized once,
   * one pool job); more tokens through each matrix in turn.
   */
  private gateAndUp(o: Extract<MLPOptions, { kind: 'swiglu' | 'geglu' }>, x: Float32Array, T: number, ws: Workspace): [Float32Array, Float32Array] {
    if (T === 1 && o.gateUp) {
      const row = ws.rows('mlp.gateup', 1, 2 * this.hidden);
      o.gateUp.forward(row, x, 1);
      if (this.halvesOf !== row || !this.halves) {
        this.halvesOf = row;
        this.halves = [row.subarray(0, this.hidden), row.subarray(this.hidden)];
      }
      return this.halves;
    }
    const g = ws.rows('mlp.gate', T, this.hidden);
    const u = ws.rows('mlp.up', T, this.hidden);
    (this.gateUpShared ??= new SharedProjections([o.gate, o.up])).forward([g, u], x, T);
    return [g, u];
  }
}
