/**
 * Sparse mixture-of-experts feed-forward (Mixtral, Qwen3-MoE, Qwen3.5-MoE, Qwen3-Next), as
 * llama.cpp's build_moe_ffn runs it for these families: router logits → softmax over all experts →
 * the top-k experts of each row → their probabilities renormalized to sum 1 → Σ weight · expert_e(x),
 * each expert a SwiGLU MLP. The router is a Linear; the rest is one backend call (Backend.moeFfn),
 * which batches the expert matmuls per expert: the rows routed to expert e are gathered and go
 * through its gate/up/down projections as one matmul each (M = those rows), natively on the native
 * backend. The experts are handed over stacked as GGUF stores them ([E·hidden, dim] …): a view when
 * the per-expert weights are consecutive slices of one tensor (GGUF), else copied once here.
 */
import type { Backend, StackedExperts, Weights } from '../backend/types.js';
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

/** The experts' `part` matrices as one [E·rows, cols] matrix: a view over consecutive slices, else a copy. */
function stack(experts: readonly Expert[], part: 'gate' | 'up' | 'down'): Weights {
  const ws = experts.map((e) => e[part].weight);
  const first = ws[0]!;
  const rows = ws.reduce((n, w) => n + w.rows, 0);
  const consecutive = ws.every(
    (w) => w.dtype === first.dtype && w.cols === first.cols && w.rows === first.rows && w.data.buffer === first.data.buffer && w.data.length === first.data.length,
  ) && ws.every((w, i) => w.data.byteOffset === first.data.byteOffset + i * first.data.byteLength);
  const Ctor = first.data.constructor as new (b: ArrayBufferLike, off: number, n: number) => Weights['data'];
  if (consecutive) return { dtype: first.dtype, rows, cols: first.cols, data: new Ctor(first.data.buffer, first.data.byteOffset, first.data.length * ws.length) };
  if (ws.some((w) => w.dtype !== first.dtype)) throw new RangeError(`tensorloom: the experts' ${part} matrices must share one dtype, got ${[...new Set(ws.map((w) => w.dtype))].join(', ')}`);
  const data = new (first.data.constructor as new (n: number) => Weights['data'])(ws.reduce((n, w) => n + w.data.length, 0));
  let off = 0;
  for (const w of ws) {
    data.set(w.data as never, off);
    off += w.data.length;
  }
  return { dtype: first.dtype, rows, cols: first.cols, data };
}

export class MoE {
  readonly hidden: number;
  readonly dim: number;
  private readonly router: Linear;
  private readonly used: number;
  private readonly stacked: StackedExperts;

  constructor(
    private readonly backend: Backend,
    o: MoEOptions,
  ) {
    const E = o.experts.length;
    if (E < 1) throw new RangeError('tensorloom: a mixture of experts needs at least one expert');
    if (!Number.isInteger(o.used) || o.used < 1 || o.used > E) throw new RangeError(`tensorloom: experts used per token must be in [1, ${E}], got ${o.used}`);
    if (o.router.outFeatures !== E) throw new RangeError(`tensorloom: MoE router has ${o.router.outFeatures} outputs, but there are ${E} experts`);
    this.router = o.router;
    this.used = o.used;
    this.dim = o.router.inFeatures;
    this.hidden = o.experts[0]!.up.outFeatures;
    o.experts.forEach((e, i) => {
      const shape = (l: Linear) => `[${l.outFeatures}, ${l.inFeatures}]`;
      const ok = (l: Linear, out: number, inF: number) => l.outFeatures === out && l.inFeatures === inF;
      if (!ok(e.gate, this.hidden, this.dim) || !ok(e.up, this.hidden, this.dim) || !ok(e.down, this.dim, this.hidden)) {
        throw new RangeError(`tensorloom: expert ${i} has gate ${shape(e.gate)}, up ${shape(e.up)}, down ${shape(e.down)}; expected [${this.hidden}, ${this.dim}] twice and [${this.dim}, ${this.hidden}]`);
      }
      if (e.gate.bias || e.up.bias || e.down.bias) throw new RangeError(`tensorloom: expert ${i} has a bias; the MoE feed-forward runs bias-free experts`);
    });
    this.stacked = { gate: stack(o.experts, 'gate'), up: stack(o.experts, 'up'), down: stack(o.experts, 'down'), experts: E };
  }

  /** out[T, dim] = Σ over each row's top-k experts of weight · swiglu-MLP_e(x). */
  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void {
    const logits = ws.rows('moe.router', T, this.stacked.experts);
    this.router.forward(logits, x, T);
    this.backend.moeFfn(out, x, logits, T, this.stacked, this.used);
  }
}
