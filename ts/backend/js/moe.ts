/**
 * The JS baseline of Backend.moeFfn (see native/kernels/moe.h for the definition): routing, grouping
 * by expert and the weighted scatter in plain loops; the projections through the given ops, so the
 * same code runs on the JS backend's matmuls (the baseline) and, in tests, on the native backend's
 * (then it must equal the native kernel bit for bit: same kernels, same routing and sum order).
 */
import { checkWeightsObject } from './matmul.js';
import type { Backend, MoEOps, StackedExperts, Weights } from '../types.js';
import { rowLength } from '../weight-types.js';

type Ops = Pick<Backend, 'softmax' | 'matmulTMany' | 'matmulT' | 'swiglu'>;

/** Scratch arrays reused across calls (grown on demand), so a decode step allocates nothing. */
const scratch = new Map<string, Float32Array | Int32Array>();
function buffer<A extends Float32Array | Int32Array>(name: string, Ctor: new (n: number) => A, n: number): A {
  let b = scratch.get(name) as A | undefined;
  if (!b || b.length < n) scratch.set(name, (b = new Ctor(Math.max(n, 2 * (b?.length ?? 0)))));
  return b.subarray(0, n) as A;
}

/** Rows [r0, r1) of w, without copying. */
function rows(w: Weights, r0: number, r1: number): Weights {
  const per = rowLength(w.dtype, w.cols);
  return { dtype: w.dtype, rows: r1 - r0, cols: w.cols, data: w.data.subarray(r0 * per, r1 * per) };
}

/** The shapes of a moeFfn call, checked; returns [dim, hidden]. */
export function checkMoE(out: Float32Array, x: Float32Array, logits: Float32Array, T: number, w: StackedExperts, used: number): [number, number] {
  const E = w.experts;
  if (!Number.isInteger(E) || E < 1) throw new RangeError(`tensorloom: moeFfn experts must be a positive integer, got ${E}`);
  if (!Number.isInteger(used) || used < 1 || used > E) throw new RangeError(`tensorloom: moeFfn used must be an integer in [1, ${E}], got ${used}`);
  if (!Number.isInteger(T) || T < 0) throw new RangeError(`tensorloom: moeFfn T must be an integer >= 0, got ${T}`);
  for (const [name, m] of [['gate', w.gate], ['up', w.up], ['down', w.down]] as const) {
    checkWeightsObject(m);
    if (m.rows % E !== 0) throw new RangeError(`tensorloom: moeFfn ${name} has ${m.rows} rows, not a multiple of the ${E} experts`);
  }
  const dim = w.gate.cols;
  const hidden = w.gate.rows / E;
  if (w.up.rows !== w.gate.rows || w.up.cols !== dim) throw new RangeError(`tensorloom: moeFfn up is [${w.up.rows}, ${w.up.cols}], expected gate's [${w.gate.rows}, ${dim}]`);
  if (w.down.rows !== E * dim || w.down.cols !== hidden) throw new RangeError(`tensorloom: moeFfn down is [${w.down.rows}, ${w.down.cols}], expected [${E * dim}, ${hidden}] (experts·dim, hidden)`);
  for (const [name, a, n] of [['out', out, T * dim], ['x', x, T * dim], ['logits', logits, T * E]] as const) {
    if (!(a instanceof Float32Array) || a.length < n) throw new RangeError(`tensorloom: moeFfn ${name} must be a Float32Array of at least ${n} elements`);
  }
  return [dim, hidden];
}

/** moeFfn computed with `ops` (see the file comment). */
export function moeFfnWith(ops: Ops, out: Float32Array, x: Float32Array, logits: Float32Array, T: number, w: StackedExperts, used: number): void {
  const [dim, hidden] = checkMoE(out, x, logits, T, w, used);
  const E = w.experts;
  const k = used;
  ops.softmax(logits, logits, T, E);
  const chosen = buffer('chosen', Int32Array, T * k);
  const weight = buffer('weight', Float32Array, T * k);
  const count = buffer('count', Int32Array, E).fill(0);
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
      chosen[t * k + j] = best;
      weight[t * k + j] = p[best]!;
      sum += p[best]!;
      p[best] = -1;
      count[best]!++;
    }
    // renormalize the chosen weights (llama.cpp clamps the sum at f16's smallest normal)
    const inv = 1 / Math.max(sum, 6.103515625e-5);
    for (let j = 0; j < k; j++) weight[t * k + j]! *= inv;
  }
  // (row, slot) pairs grouped by expert, in increasing order within each
  const start = buffer('start', Int32Array, E + 1).fill(0);
  for (let e = 0; e < E; e++) start[e + 1] = start[e]! + count[e]!;
  const order = buffer('order', Int32Array, T * k);
  count.fill(0);
  for (let i = 0; i < T * k; i++) order[start[chosen[i]!]! + count[chosen[i]!]!++] = i;
  out.fill(0, 0, T * dim);
  for (let e = 0; e < E; e++) {
    const n = start[e + 1]! - start[e]!;
    if (n === 0) continue;
    const idx = order.subarray(start[e]!, start[e + 1]!);
    const xe = buffer('xe', Float32Array, n * dim);
    for (let r = 0; r < n; r++) {
      const t = Math.floor(idx[r]! / k);
      xe.set(x.subarray(t * dim, (t + 1) * dim), r * dim);
    }
    const g = buffer('g', Float32Array, n * hidden);
    const u = buffer('u', Float32Array, n * hidden);
    ops.matmulTMany([g, u], xe, [rows(w.gate, e * hidden, (e + 1) * hidden), rows(w.up, e * hidden, (e + 1) * hidden)], n);
    ops.swiglu(g, g, u);
    const ye = buffer('ye', Float32Array, n * dim);
    ops.matmulT(ye, g, rows(w.down, e * dim, (e + 1) * dim), n);
    for (let r = 0; r < n; r++) {
      const t = Math.floor(idx[r]! / k);
      const wr = weight[idx[r]!]!;
      const o = t * dim;
      const s = r * dim;
      for (let d = 0; d < dim; d++) out[o + d]! += wr * ye[s + d]!;
    }
  }
}

export function jsMoE(ops: Ops): MoEOps {
  return { moeFfn: (out, x, logits, T, w, used) => moeFfnWith(ops, out, x, logits, T, w, used) };
}
