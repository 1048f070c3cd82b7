/**
 * Sparse mixture-of-experts feed-forward (Mixtral, Qwen3-MoE), as llama.cpp's build_moe_ffn runs
 * it for these families: router logits → softmax over all experts → the top-k experts of each
 * row → their probabilities renormalized to sum 1 → Σ weight · expert_e(x), each expert a SwiGLU
 * MLP. The expert matmuls are batched per expert: the rows routed to expert e are gathered and go
 * through its gate/up/down projections as one matmul each (M = those rows), then are scattered
 * back, weighted, into the output.
 */
import type { Backend } from '../backend/types.js';
import type { Linear } from './linear.js';
import type { Workspace } from './workspace.js';

export interface Expert {
  gate: Linear;
  up: Linear;
  down: Linear;
}

export interface MoEOptions {
  /** `[experts, dim]`, one logit per expert. */
  router: Linear;
  experts: Expert[];
  /** Experts each row uses (top-k). */
  used: number;
}

export class MoE {
  readonly hidden: number;
  readonly dim: number;
  private readonly router: Linear;
  private readonly experts: Expert[];
  private readonly used: number;
  /** Per call: chosen expert and weight of each (row, slot); rows of each expert. */
  private chosen = new Int32Array(0);
  private weights = new Float32Array(0);
  private readonly rowsOf: Int32Array[];
  private readonly countOf: Int32Array;

  constructor(
    private readonly backend: Backend,
    o: MoEOptions,
  ) {
    const E = o.experts.length;
    if (E < 1) throw new RangeError('tensorloom: a mixture of experts needs at least one expert');
    if (!Number.isInteger(o.used) || o.used < 1 || o.used > E) throw new RangeError(`tensorloom: experts used per token must be in [1, ${E}], got ${o.used}`);
    if (o.router.outFeatures !== E) throw new RangeError(`tensorloom: MoE router has ${o.router.outFeatures} outputs, but there are ${E} experts`);
    this.router = o.router;
    this.experts = o.experts;
    this.used = o.used;
    this.dim = o.router.inFeatures;
    this.hidden = o.experts[0]!.up.outFeatures;
    o.experts.forEach((e, i) => {
      const shape = (l: Linear) => `[${l.outFeatures}, ${l.inFeatures}]`;
      const ok = (l: Linear, out: number, inF: number) => l.outFeatures === out && l.inFeatures === inF;
      if (!ok(e.gate, this.hidden, this.dim) || !ok(e.up, this.hidden, this.dim) || !ok(e.down, this.dim, this.hidden)) {
        throw new RangeError(`tensorloom: expert ${i} has gate ${shape(e.gate)}, up ${shape(e.up)}, down ${shape(e.down)}; expected [${this.hidden}, ${this.dim}] twice and [${this.dim}, ${this.hidden}]`);
      }
    });
    this.rowsOf = o.experts.map(() => new Int32Array(0));
    this.countOf = new Int32Array(E);
  }

  /** out[T, dim] = Σ over each row's top-k experts of weight · swiglu-MLP_e(x). */
  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void {
    const E = this.experts.length;
    const k = this.used;
    const dim = this.dim;
    const logits = ws.rows('moe.router', T, E);
    this.router.forward(logits, x, T);
    this.backend.softmax(logits, logits, T, E);
    if (this.chosen.length < T * k) {
      this.chosen = new Int32Array(T * k);
      this.weights = new Float32Array(T * k);
    }
    this.countOf.fill(0);
    for (let t = 0; t < T; t++) {
      const p = logits.subarray(t * E, (t + 1) * E);
      let sum = 0;
      for (let j = 0; j < k; j++) {
        // j-th largest probability (ties: the lower expert id, as a stable descending sort gives)
        let best = -1;
        for (let e = 0; e < E; e++) {
          if (p[e]! < 0) continue; // taken (probabilities are ≥ 0; taken ones are marked -1)
          if (best < 0 || p[e]! > p[best]!) best = e;
        }
        this.chosen[t * k + j] = best;
        this.weights[t * k + j] = p[best]!;
        sum += p[best]!;
        p[best] = -1;
        this.countOf[best]!++;
      }
      // renormalize the chosen weights (llama.cpp clamps the sum at f16's smallest normal)
      const inv = 1 / Math.max(sum, 6.103515625e-5);
      for (let j = 0; j < k; j++) this.weights[t * k + j]! *= inv;
    }
    for (let e = 0; e < E; e++) if (this.rowsOf[e]!.length < this.countOf[e]!) this.rowsOf[e] = new Int32Array(Math.max(this.countOf[e]!, T));
    this.countOf.fill(0);
    for (let i = 0; i < T * k; i++) {
      const e = this.chosen[i]!;
      this.rowsOf[e]![this.countOf[e]!++] = i; // (row, slot) index: row = i / k
    }
    out.fill(0, 0, T * dim);
    for (let e = 0; e < E; e++) {
      const n = this.countOf[e]!;
      if (n === 0) continue;
      const idx = this.rowsOf[e]!;
      const xe = ws.rows('moe.x', n, dim);
      for (let r = 0; r < n; r++) {
        const t = Math.floor(idx[r]! / k);
        xe.set(x.subarray(t * dim, (t + 1) * dim), r * dim);
      }
      const ex = this.experts[e]!;
      const g = ws.rows('moe.gate', n, this.hidden);
      const u = ws.rows('moe.up', n, this.hidden);
      ex.gate.forward(g, xe, n);
      ex.up.forward(u, xe, n);
      this.backend.swiglu(g, g, u);
      const ye = ws.rows('moe.y', n, dim);
      ex.down.forward(ye, g, n);
      for (let r = 0; r < n; r++) {
        const t = Math.floor(idx[r]! / k);
        const w = this.weights[idx[r]!]!;
        const o = t * dim;
        const s = r * dim;
        for (let d = 0; d < dim; d++) out[o + d]! += w * ye[s + d]!;
      }
    }
  }
}
