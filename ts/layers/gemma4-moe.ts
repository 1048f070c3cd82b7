/**
 * Gemma 4's mixture-of-experts feed-forward (the 26B-A4B model), as llama.cpp's gemma4 graph runs
 * it: a dense GeGLU MLP and the routed experts side by side, each with its own norms, summed:
 *   n      = rms_norm(x)                                (no weight; the block's mlpNorm gives it)
 *   dense  = post_ffw_norm_1(mlp(n ⊙ ffn_norm))
 *   logits = ffn_gate_inp · (n / √dim ⊙ ffn_gate_inp.scale)
 *   p      = softmax(logits); the top-k experts of each row, their p renormalized to sum 1
 *   moe    = post_ffw_norm_2(Σ_k p_k · s_k · down_k(gelu(gate_k h) ⊙ up_k h)),  h = n ⊙ pre_ffw_norm_2
 *   out    = dense + moe  (the block then applies post_ffw_norm and the residual add)
 * where s_k is the expert's ffn_down_exps.scale (1 without it). The rows routed to an expert go
 * through its projections as one matmul each (a GeGLU MLP per expert).
 */
import type { Backend } from '../backend/types.js';
import type { MLP } from './mlp.js';
import type { Linear } from './linear.js';
import type { RMSNorm } from './rmsnorm.js';
import type { FeedForward } from './token-mixer.js';
import type { Workspace } from './workspace.js';

export interface Gemma4MoEOptions {
  dim: number;
  /** ffn_norm weights (the dense MLP's input norm). */
  ffnNorm: Float32Array;
  dense: FeedForward;
  postNorm1: RMSNorm;
  /** pre_ffw_norm_2 weights (the experts' input norm). */
  preNorm2: Float32Array;
  /** ffn_gate_inp: [experts, dim]. */
  router: Linear;
  /** ffn_gate_inp.scale: [dim]. */
  routerScale: Float32Array;
  /** One GeGLU MLP per expert. */
  experts: MLP[];
  /** ffn_down_exps.scale: [experts], or null. */
  expertScale: Float32Array | null;
  /** Experts each row uses (top-k). */
  used: number;
  postNorm2: RMSNorm;
}

export class Gemma4MoE implements FeedForward {
  constructor(
    private readonly backend: Backend,
    readonly o: Gemma4MoEOptions,
  ) {
    const E = o.experts.length;
    if (o.router.outFeatures !== E || o.router.inFeatures !== o.dim) throw new RangeError(`tensorloom: ffn_gate_inp is [${o.router.outFeatures}, ${o.router.inFeatures}], expected [${E}, ${o.dim}]`);
    if (!Number.isInteger(o.used) || o.used < 1 || o.used > E) throw new RangeError(`tensorloom: experts used per token must be in [1, ${E}], got ${o.used}`);
    if (o.routerScale.length !== o.dim) throw new RangeError(`tensorloom: ffn_gate_inp.scale has ${o.routerScale.length} elements, expected ${o.dim}`);
    if (o.expertScale && o.expertScale.length !== E) throw new RangeError(`tensorloom: ffn_down_exps.scale has ${o.expertScale.length} elements, expected ${E} (one per expert)`);
    if (o.ffnNorm.length !== o.dim || o.preNorm2.length !== o.dim) throw new RangeError(`tensorloom: ffn_norm / pre_ffw_norm_2 must have ${o.dim} elements`);
  }

  /** out[T, dim] from n[T, dim] = rms_norm(x) (unweighted). */
  forward(out: Float32Array, n: Float32Array, T: number, ws: Workspace): void {
    const { dim, used } = this.o;
    const E = this.o.experts.length;
    const scaled = (w: Float32Array, name: string, factor = 1): Float32Array => {
      const h = ws.rows(name, T, dim);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < dim; i++) h[t * dim + i] = Math.fround(Math.fround(n[t * dim + i]! * factor) * w[i]!);
      }
      return h;
    };
    // the dense MLP
    this.o.dense.forward(out, scaled(this.o.ffnNorm, 'g4moe.dense.in'), T, ws);
    this.o.postNorm1.forward(out, out, T);
    // routing (float32 factor, as ggml_scale takes it)
    const logits = ws.rows('g4moe.logits', T, E);
    this.o.router.forward(logits, scaled(this.o.routerScale, 'g4moe.router.in', Math.fround(1 / Math.sqrt(dim))), T);
    const chosen = new Int32Array(T * used);
    const weights = new Float32Array(T * used);
    for (let t = 0; t < T; t++) {
      const l = logits.subarray(t * E, (t + 1) * E);
      let max = -Infinity;
      for (const v of l) max = Math.max(max, v);
      const p = new Float64Array(E);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += p[e] = Math.exp(l[e]! - max);
      const order = Array.from({ length: E }, (_, e) => e).sort((a, b) => p[b]! - p[a]! || a - b);
      let kept = 0;
      for (let k = 0; k < used; k++) kept += p[order[k]!]! / sum;
      for (let k = 0; k < used; k++) {
        const e = order[k]!;
        chosen[t * used + k] = e;
        weights[t * used + k] = ((p[e]! / sum) / kept) * (this.o.expertScale ? this.o.expertScale[e]! : 1);
      }
    }
    // the experts, each on the rows routed to it
    const h = scaled(this.o.preNorm2, 'g4moe.experts.in');
    const moe = ws.rows('g4moe.out', T, dim);
    moe.fill(0);
    for (let e = 0; e < E; e++) {
      const rows: number[] = [];
      const w: number[] = [];
      for (let i = 0; i < T * used; i++) {
        if (chosen[i] === e) {
          rows.push(Math.floor(i / used));
          w.push(weights[i]!);
        }
      }
      if (rows.length === 0) continue;
      const m = rows.length;
      const xin = ws.rows('g4moe.expert.in', m, dim);
      rows.forEach((r, j) => xin.set(h.subarray(r * dim, (r + 1) * dim), j * dim));
      const y = ws.rows('g4moe.expert.out', m, dim);
      this.o.experts[e]!.forward(y, xin, m, ws);
      rows.forEach((r, j) => {
        for (let i = 0; i < dim; i++) moe[r * dim + i]! += w[j]! * y[j * dim + i]!;
      });
    }
    this.o.postNorm2.forward(moe, moe, T);
    this.backend.add(out, out, moe);
  }
}
