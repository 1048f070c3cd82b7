/**
 * The feed-forward half of a block.
 * - SwiGLU (Llama): down(silu(gate(x)) ⊙ up(x))
 * - GELU (GPT-2):   down(gelu(up(x)))
 */
import type { Backend, GeluApproximation } from '../backend/types.js';
import type { Linear } from './linear.js';
import type { Workspace } from './workspace.js';

export type MLPOptions =
  | { kind: 'swiglu'; gate: Linear; up: Linear; down: Linear }
  | { kind: 'gelu'; up: Linear; down: Linear; approximation?: GeluApproximation };

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
    if (options.kind === 'swiglu' && (options.gate.outFeatures !== up.outFeatures || options.gate.inFeatures !== up.inFeatures)) {
      throw new RangeError(`tensorloom: MLP gate projection is [${options.gate.outFeatures}, ${options.gate.inFeatures}], expected [${up.outFeatures}, ${up.inFeatures}]`);
    }
  }

  /** out[T, dim] = mlp(x[T, dim]). */
  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void {
    const o = this.options;
    const u = ws.rows('mlp.up', T, this.hidden);
    o.up.forward(u, x, T);
    if (o.kind === 'swiglu') {
      const g = ws.rows('mlp.gate', T, this.hidden);
      o.gate.forward(g, x, T);
      this.backend.swiglu(g, g, u);
      o.down.forward(out, g, T);
    } else {
      this.backend.gelu(u, u, o.approximation ?? 'tanh');
      o.down.forward(out, u, T);
    }
  }
}
