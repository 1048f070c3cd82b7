/**
 * Scalar f16 / bf16 bit conversions for the JS kernels (embedding rows, f16 KV cache): the same
 * rounding as native/kernels/f16.h (round to nearest even), written with plain integer ops.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

let f16Table: Float32Array | undefined;

/** f16 bits → f32 (exact). Uses a 64 Ki-entry table built on first use. */
export function f16ToF32(h: number): number {
  return (f16Table ??= buildF16Table())[h & 0xffff]!;
}

function buildF16Table(): Float32Array {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return t;
}

/** f32 → f16 bits, round to nearest even (as F16C's vcvtps2ph). */
export function f32ToF16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 | ((absx >>> 13) & 0x3ff) : 0);
  if (absx >= 0x477ff000) return sign | 0x7c00;
  if (absx < 0x38800000) {
    if (absx < 0x33000000) return sign;
    const e = absx >>> 23;
    const m = (absx & 0x7fffff) | 0x800000;
    const shift = 126 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && r & 1)) r++;
    return sign | r;
  }
  return sign | (((absx + 0xc8000fff + ((absx >>> 13) & 1)) >>> 13) & 0xffff);
}

/** bf16 bits → f32 (exact). */
export function bf16ToF32(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}
