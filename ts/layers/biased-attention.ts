/**
 * Softmax attention with an additive position bias (T5's relative buckets), in plain TypeScript.
 *
 * The contract is the one the attention kernel's `positionBias` input takes (AttentionShape in
 * ts/backend/types.ts, added natively by the beam-search/kernel work): bias[(h·T + t)·S + s] is added
 * to the scaled score of query t and key s in head h before the causal mask and the softmax. Until
 * every backend has that input, T5's self-attention runs here; cross-attention (no bias) already
 * runs on the fused kernel. Scores and sums in f64, one query row at a time.
 */
import type { AttentionShape } from '../backend/types.js';

/** out[T, H·D] = softmax(scale · q kᵀ + bias, causal mask) v; k and v are [S, Hkv·D] f32. */
export function attentionWithBias(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape, bias: Float32Array): void {
  const { T, S, H, Hkv, D, posOffset } = shape;
  const causal = shape.causal ?? true;
  const scale = shape.scale ?? 1 / Math.sqrt(D);
  if (bias.length !== H * T * S) throw new RangeError(`tensorloom: position bias has ${bias.length} elements, expected H·T·S = ${H * T * S}`);
  if (q.length !== T * H * D || out.length !== T * H * D) throw new RangeError(`tensorloom: q and out must be [T=${T}, H=${H}, D=${D}]`);
  if (k.length < S * Hkv * D || v.length < S * Hkv * D) throw new RangeError(`tensorloom: k and v must hold [S=${S}, Hkv=${Hkv}, D=${D}]`);
  const group = H / Hkv;
  const kvStride = Hkv * D;
  const scores = new Float64Array(S);
  const acc = new Float64Array(D);
  for (let t = 0; t < T; t++) {
    const last = causal ? Math.min(S - 1, posOffset + t) : S - 1;
    for (let h = 0; h < H; h++) {
      const qo = (t * H + h) * D;
      const ko = Math.floor(h / group) * D;
      const bo = (h * T + t) * S;
      let max = -Infinity;
      for (let s = 0; s <= last; s++) {
        let dot = 0;
        const kr = s * kvStride + ko;
        for (let d = 0; d < D; d++) dot += q[qo + d]! * k[kr + d]!;
        const x = dot * scale + bias[bo + s]!;
        scores[s] = x;
        if (x > max) max = x;
      }
      acc.fill(0);
      let sum = 0;
      for (let s = 0; s <= last; s++) {
        const p = Math.exp(scores[s]! - max);
        sum += p;
        const vr = s * kvStride + ko;
        for (let d = 0; d < D; d++) acc[d]! += p * v[vr + d]!;
      }
      for (let d = 0; d < D; d++) out[qo + d] = acc[d]! / sum;
    }
  }
}
