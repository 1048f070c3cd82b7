/**
 * fmaf(a, b, c) for f32 inputs: a·b + c rounded once to f32, as the hardware FMA (and C's fmaf)
 * computes it. JavaScript has no fused multiply-add, so: a·b of two f32 values is exact in f64;
 * the f64 sum s = a·b + c may round, and its error e comes exactly from TwoSum. Rounding s "to
 * odd" (when e ≠ 0 and s's last bit is even, step s one ulp towards e) keeps enough information
 * that the final rounding to f32 equals the single rounding of the exact sum (53 ≥ 24 + 2 bits).
 * The JS baseline uses it where ggml's FMA builds fuse (RoPE's rotation).
 */
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer); // little-endian: u32[0] low word, u32[1] high word

export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits < 53
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb); // s + e = p + c exactly (TwoSum)
  if (e === 0 || !Number.isFinite(s)) return Math.fround(s);
  f64[0] = s;
  if ((u32[0]! & 1) === 0) {
    // Away from zero when e has s's sign, else towards zero: one step of the 64-bit pattern.
    if (e > 0 === s > 0) u32[0] = u32[0]! + 1; // low word even: no carry
    else if (u32[0] === 0) { u32[0] = 0xffffffff; u32[1] = u32[1]! - 1; }
    else u32[0] = u32[0]! - 1;
  }
  return Math.fround(f64[0]!);
}
