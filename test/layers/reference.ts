/**
 * Naive, materialized references for the layer and model tests: plain loops in float64, the
 * whole T×S score matrix built explicitly, weights dequantized up front, and a full-sequence
 * forward that recomputes everything from scratch for every length (no KV cache). Written from
 * the formulas (llama2.c's run.c, GPT-2's paper/code conventions), independent of ts/layers.
 */
import type { RopeOptions, Weights } from '../../ts/backend/types.js';
import { bf16ArrayToF32, dequantizeQ8_0, f16ArrayToF32 } from '../../ts/formats/dtype-convert.js';
import type { TransformerConfig } from '../../ts/models/config.js';
import type { TransformerWeights } from '../../ts/models/weights.js';

export function dense(w: Weights): Float32Array {
  switch (w.dtype) {
    case 'f32':
      return w.data as Float32Array;
    case 'f16':
      return f16ArrayToF32(w.data as Uint16Array);
    case 'bf16':
      return bf16ArrayToF32(w.data as Uint16Array);
    case 'q8_0':
      return dequantizeQ8_0(w.data as Uint8Array);
  }
}

/** y[M, N] = x[M, K] · Wᵀ (+ b). */
export function refLinear(x: ArrayLike<number>, M: number, w: Weights, b: ArrayLike<number> | null = null): Float64Array {
  const W = dense(w);
  const { rows: N, cols: K } = w;
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n]! : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k]! * W[n * K + k]!;
      y[m * N + n] = s;
    }
  return y;
}

export function refRmsnorm(x: ArrayLike<number>, rows: number, weight: ArrayLike<number>, eps: number): Float64Array {
  const d = weight.length;
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[r * d + i]! ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = x[r * d + i]! * inv * weight[i]!;
  }
  return y;
}

export function refLayernorm(x: ArrayLike<number>, rows: number, weight: ArrayLike<number>, bias: ArrayLike<number> | null, eps: number): Float64Array {
  const d = weight.length;
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i]!;
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[r * d + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i]! - mean) * inv * weight[i]! + (bias ? bias[i]! : 0);
  }
  return y;
}

/** In place on x[T, H, D]: row t rotated at position pos + t. */
export function refRope(x: Float64Array, T: number, H: number, D: number, pos: number, rope: RopeOptions): void {
  const dims = rope.dims ?? D;
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) {
      const base = (t * H + h) * D;
      for (let i = 0; i < dims / 2; i++) {
        const freq = Math.pow(rope.theta, (-2 * i) / dims);
        const a = (pos + t) * freq;
        const [j0, j1] = rope.layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + dims / 2];
        const x0 = x[base + j0]!;
        const x1 = x[base + j1]!;
        x[base + j0] = x0 * Math.cos(a) - x1 * Math.sin(a);
        x[base + j1] = x0 * Math.sin(a) + x1 * Math.cos(a);
      }
    }
}

/** Causal attention over a full sequence: q [T, H, D], k/v [T, Hkv, D] (already rotated). */
export function refAttention(q: Float64Array, k: Float64Array, v: Float64Array, T: number, H: number, Hkv: number, D: number): Float64Array {
  const out = new Float64Array(T * H * D);
  const group = H / Hkv;
  const scores = new Float64Array(T);
  for (let t = 0; t < T; t++)
    for (let h = 0; h < H; h++) {
      const kh = Math.floor(h / group);
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(t * H + h) * D + d]! * k[(s * Hkv + kh) * D + d]!;
        scores[s] = dot / Math.sqrt(D);
        max = Math.max(max, scores[s]!);
      }
      let z = 0;
      for (let s = 0; s <= t; s++) z += (scores[s] = Math.exp(scores[s]! - max));
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += (scores[s]! / z) * v[(s * Hkv + kh) * D + d]!;
        out[(t * H + h) * D + d] = acc;
      }
    }
  return out;
}

export const refGeluTanh = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const refSilu = (x: number): number => x / (1 + Math.exp(-x));

/** Logits [T, vocab] for the whole sequence `ids` starting at position 0, from scratch. */
export function refForward(c: TransformerConfig, w: TransformerWeights, ids: readonly number[]): Float64Array {
  const T = ids.length;
  const d = c.dim;
  const emb = dense(w.tokenEmbedding);
  const pos = w.positionEmbedding ? dense(w.positionEmbedding) : null;
  let x = new Float64Array(T * d);
  for (let t = 0; t < T; t++) for (let i = 0; i < d; i++) x[t * d + i] = emb[ids[t]! * d + i]! + (pos ? pos[t * d + i]! : 0);
  const normOf = (y: ArrayLike<number>, n: { weight: Float32Array; bias: Float32Array | null }) =>
    c.norm === 'rmsnorm' ? refRmsnorm(y, T, n.weight, c.normEps) : refLayernorm(y, T, n.weight, n.bias, c.normEps);
  for (const L of w.layers) {
    const h = normOf(x, L.attnNorm);
    const q = refLinear(h, T, L.q.weight, L.q.bias);
    const k = refLinear(h, T, L.k.weight, L.k.bias);
    const v = refLinear(h, T, L.v.weight, L.v.bias);
    if (c.rope) {
      refRope(q, T, c.nHeads, c.headDim, 0, c.rope);
      refRope(k, T, c.nKvHeads, c.headDim, 0, c.rope);
    }
    const a = refAttention(q, k, v, T, c.nHeads, c.nKvHeads, c.headDim);
    const o = refLinear(a, T, L.o.weight, L.o.bias);
    for (let i = 0; i < x.length; i++) x[i]! += o[i]!;
    const h2 = normOf(x, L.mlpNorm);
    if (!L.up || !L.down) throw new Error("the reference runs dense MLPs only");
    const up = refLinear(h2, T, L.up.weight, L.up.bias);
    let act: Float64Array;
    if (L.gate) {
      const g = refLinear(h2, T, L.gate.weight, L.gate.bias);
      act = g.map((gi, i) => refSilu(gi) * up[i]!);
    } else {
      act = up.map(refGeluTanh);
    }
    const down = refLinear(act, T, L.down.weight, L.down.bias);
    x = x.map((xi, i) => xi + down[i]!);
  }
  const hf = normOf(x, w.finalNorm);
  return refLinear(hf, T, w.lmHead);
}
