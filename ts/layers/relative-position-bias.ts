/**
 * T5's relative position bias: instead of position embeddings or RoPE, each attention score
 * q_t · k_s gets a learned per-head scalar that depends on the distance s − t, looked up through a
 * bucket (exact for small distances, logarithmic up to `maxDistance`, then clamped). The encoder's
 * buckets are bidirectional (half for keys after the query); the decoder's are causal (only
 * distances to earlier keys). One table [buckets, heads] per stack, stored in layer 0 and shared by
 * every layer, so the bias is filled once per forward step and reused.
 *
 * The bias is laid out as the attention kernel's `positionBias` input: bias[(h·T + t)·S + s].
 */

/**
 * The bucket of a key at `key` for a query at `query` (llama.cpp's llama_relative_position_bucket,
 * HF's _relative_position_bucket): the log term is computed in f32 as llama.cpp does, so bucket
 * boundaries (e.g. a distance of exactly 2 × maxExact) fall on the same side.
 */
export function relativePositionBucket(key: number, query: number, buckets: number, bidirectional: boolean, maxDistance = 128): number {
  let n = buckets;
  if (bidirectional) n >>= 1;
  const maxExact = n >> 1;
  let rel = key - query;
  let bucket = 0;
  if (bidirectional) {
    if (rel > 0) bucket += n;
    rel = Math.abs(rel);
  } else {
    rel = -Math.min(rel, 0);
  }
  if (rel < maxExact) return bucket + rel;
  const logRatio = Math.fround(Math.log(Math.fround(rel / maxExact))); // logf of a float
  const large = Math.floor(Math.fround(maxExact + (Math.fround(logRatio * (n - maxExact)) / Math.log(maxDistance / maxExact))));
  return bucket + Math.min(large, n - 1);
}

export class RelativePositionBias {
  readonly heads: number;
  readonly buckets: number;
  private bias = new Float32Array(0);
  private lines = new Float32Array(0); // [heads, distances] of the last fill

  /** `table`: [buckets, heads] row-major (GGUF `*.attn_rel_b.weight`, HF `relative_attention_bias.weight`). */
  constructor(
    readonly table: Float32Array,
    heads: number,
    readonly bidirectional: boolean,
    readonly maxDistance: number,
  ) {
    if (!Number.isInteger(heads) || heads < 1 || table.length % heads !== 0) {
      throw new RangeError(`tensorloom: relative attention bias has ${table.length} elements, not a multiple of ${heads} heads`);
    }
    this.heads = heads;
    this.buckets = table.length / heads;
  }

  /**
   * The bias of T queries at positions qPos0 … qPos0+T−1 against S keys at positions 0 … S−1,
   * [H, T, S]. The returned array is reused by the next call.
   */
  fill(T: number, S: number, qPos0: number): Float32Array {
    const H = this.heads;
    const n = H * T * S;
    if (this.bias.length < n) this.bias = new Float32Array(Math.max(n, this.bias.length * 2));
    const out = this.bias.subarray(0, n);
    // The bias depends only on the distance key − query, from dMin = −(qPos0 + T − 1) to S − 1 − qPos0:
    // look each distance up once per head, then every row (h, t) is a window of that line.
    const dMin = -(qPos0 + T - 1);
    const span = S + T - 1;
    if (this.lines.length < H * span) this.lines = new Float32Array(H * span);
    const tab = this.table;
    for (let i = 0; i < span; i++) {
      const b = relativePositionBucket(dMin + i, 0, this.buckets, this.bidirectional, this.maxDistance) * H;
      for (let h = 0; h < H; h++) this.lines[h * span + i] = tab[b + h]!;
    }
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const from = h * span + (T - 1 - t); // distance −(qPos0 + t) at key 0
        out.set(this.lines.subarray(from, from + S), (h * T + t) * S);
      }
    }
    return out;
  }
}
