/**
 * Softmax attention with an additive position bias (T5's relative buckets), built from backend ops.
 *
 * The contract is the one the attention kernel's `positionBias` input takes (AttentionShape in
 * ts/backend/types.ts, added natively by the beam-search/kernel work): bias[(h·T + t)·S + s] is added
 * to the scaled score of query t and key s in head h before the causal mask and the softmax. Until
 * every backend has that input, T5's self-attention runs here, one head at a time: scores = q_h k_hᵀ
 * (backend matmul), + bias, causal mask, row softmax (backend), then p · v_h (backend matmul over
 * v_h transposed). It materializes a T×S score block per head — fine for T5's contexts (≤ 512);
 * cross-attention (no bias) already runs on the fused kernel.
 */
import type { AttentionShape, Backend } from '../backend/types.js';

export class BiasedAttention {
  private qh: Float32Array = new Float32Array(0);
  private kh: Float32Array = new Float32Array(0);
  private vt: Float32Array = new Float32Array(0);
  private scores: Float32Array = new Float32Array(0);
  private oh: Float32Array = new Float32Array(0);

  constructor(private readonly backend: Backend) {}

  /** out[T, H·D] = softmax(scale · q kᵀ + bias, causal mask) v; k and v are [≥S, Hkv·D] f32. */
  forward(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, shape: AttentionShape, bias: Float32Array): void {
    const { T, S, H, Hkv, D, posOffset } = shape;
    const causal = shape.causal ?? true;
    const scale = shape.scale ?? 1 / Math.sqrt(D);
    if (bias.length !== H * T * S) throw new RangeError(`tensorloom: position bias has ${bias.length} elements, expected H·T·S = ${H * T * S}`);
    if (q.length !== T * H * D || out.length !== T * H * D) throw new RangeError(`tensorloom: q and out must be [T=${T}, H=${H}, D=${D}]`);
    if (k.length < S * Hkv * D || v.length < S * Hkv * D) throw new RangeError(`tensorloom: k and v must hold [S=${S}, Hkv=${Hkv}, D=${D}]`);
    const b = this.backend;
    const group = H / Hkv;
    const kvStride = Hkv * D;
    const qh = (this.qh = grow(this.qh, T * D)).subarray(0, T * D);
    const kh = (this.kh = grow(this.kh, S * D)).subarray(0, S * D);
    const vt = (this.vt = grow(this.vt, S * D)).subarray(0, S * D);
    const scores = (this.scores = grow(this.scores, T * S)).subarray(0, T * S);
    const oh = (this.oh = grow(this.oh, T * D)).subarray(0, T * D);
    const kw = { dtype: 'f32' as const, rows: S, cols: D, data: kh };
    const vw = { dtype: 'f32' as const, rows: D, cols: S, data: vt };
    let loaded = -1;
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / group);
      if (kvh !== loaded) {
        // k_h [S, D] and v_hᵀ [D, S] of this KV head (shared by its `group` query heads)
        for (let s = 0; s < S; s++) {
          const r = s * kvStride + kvh * D;
          for (let d = 0; d < D; d++) {
            kh[s * D + d] = k[r + d]!;
            vt[d * S + s] = v[r + d]!;
          }
        }
        loaded = kvh;
      }
      for (let t = 0; t < T; t++) qh.set(q.subarray((t * H + h) * D, (t * H + h + 1) * D), t * D);
      b.matmulT(scores, qh, kw, T);
      const bo = h * T * S;
      for (let t = 0; t < T; t++) {
        const last = causal ? posOffset + t : S - 1;
        const row = t * S;
        for (let s = 0; s < S; s++) scores[row + s] = s <= last ? scores[row + s]! * scale + bias[bo + row + s]! : -Infinity;
      }
      b.softmax(scores, scores, T, S);
      b.matmulT(oh, scores, vw, T);
      for (let t = 0; t < T; t++) out.set(oh.subarray(t * D, (t + 1) * D), (t * H + h) * D);
    }
  }
}

function grow(a: Float32Array, n: number): Float32Array {
  return a.length >= n ? a : new Float32Array(Math.max(n, a.length * 2));
}
