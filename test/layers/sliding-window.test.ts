/**
 * Sliding-window attention (Attention's `window`): each query at position p sees only keys
 * p - window < p' ≤ p. Checked against a float64 reference (RoPE + windowed softmax attention),
 * with identity projections so the layer's output is the attention itself; a prompt run in one
 * call and token by token give the same result, with an f32 and an f16 KV cache.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { RopeOptions } from '../../ts/backend/types.js';
import { Attention, KVCache, Linear, sequenceStep, Workspace } from '../../ts/layers/index.js';
import { Rng } from '../../ts/generate/rng.js';
import { nativeAvailable } from '../models/helpers.js';
import { refRope } from './reference.js';

const H = 4;
const Hkv = 2;
const D = 8;
const dim = H * D;
const rope: RopeOptions = { theta: 10000, layout: 'half' };

/** Reference: q = x, k = v = the first Hkv heads of x, rotated, attending over the window. */
function reference(x: Float32Array, T: number, W: number): Float64Array {
  const q = Float64Array.from(x);
  const k = new Float64Array(T * Hkv * D);
  for (let t = 0; t < T; t++) k.set(q.subarray(t * dim, t * dim + Hkv * D), t * Hkv * D);
  const v = Float64Array.from(k);
  refRope(q, T, H, D, 0, rope);
  refRope(k, T, Hkv, D, 0, rope);
  const out = new Float64Array(T * dim);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / (H / Hkv));
      const lo = Math.max(0, t - W + 1);
      const s: number[] = [];
      for (let p = lo; p <= t; p++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * H + h) * D + d]! * k[(p * Hkv + kh) * D + d]!;
        s.push(dot / Math.sqrt(D));
      }
      const m = Math.max(...s);
      const e = s.map((z) => Math.exp(z - m));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let p = lo; p <= t; p++) acc += (e[p - lo]! / z) * v[(p * Hkv + kh) * D + d]!;
        out[(t * H + h) * D + d] = acc;
      }
    }
  return out;
}

describe.each(nativeAvailable() ? (['native', 'js'] as const) : (['js'] as const))('sliding-window attention (%s backend)', (name) => {
  const b = getBackend(name);
  const eye = (rows: number): Linear => {
    const w = new Float32Array(rows * dim);
    for (let i = 0; i < rows; i++) w[i * dim + i] = 1;
    return new Linear(b, { dtype: 'f32', rows, cols: dim, data: w });
  };
  const outEye = (): Linear => {
    const w = new Float32Array(dim * dim);
    for (let i = 0; i < dim; i++) w[i * dim + i] = 1;
    return new Linear(b, { dtype: 'f32', rows: dim, cols: dim, data: w });
  };
  for (const kv of ['f32', 'f16'] as const)
    it(`window 4 over 12 positions, ${kv} cache: matches the float64 reference, prompt at once = token by token`, () => {
      const T = 12;
      const W = 4;
      const rng = new Rng(7);
      const x = Float32Array.from({ length: T * dim }, () => rng.next() * 2 - 1);
      const attn = new Attention(b, { q: eye(dim), k: eye(Hkv * D), v: eye(Hkv * D), o: outEye(), nHeads: H, nKvHeads: Hkv, headDim: D, rope, window: W });
      const ws = new Workspace(T);
      const c1 = new KVCache({ layers: 1, maxSeq: T, kvHeads: Hkv, headDim: D, dtype: kv });
      const all = new Float32Array(T * dim);
      attn.forward(all, x, sequenceStep(T, 0, c1), 0, ws);
      const c2 = new KVCache({ layers: 1, maxSeq: T, kvHeads: Hkv, headDim: D, dtype: kv });
      const steps = new Float32Array(T * dim);
      for (let t = 0; t < T; t++) attn.forward(steps.subarray(t * dim, (t + 1) * dim), x.subarray(t * dim, (t + 1) * dim), sequenceStep(1, t, c2), 0, ws);
      const ref = reference(x, T, W);
      const tol = kv === 'f32' ? 1e-5 : 5e-3;
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(all[i]! - ref[i]!), Math.abs(steps[i]! - ref[i]!));
      expect(worst).toBeLessThan(tol);
      // and it is not plain causal attention: the last query's full-context result differs
      const full = reference(x, T, T);
      let differs = 0;
      for (let i = (T - 1) * dim; i < T * dim; i++) differs = Math.max(differs, Math.abs(full[i]! - ref[i]!));
      expect(differs).toBeGreaterThan(1e-3);
    });
});
