/**
 * Conversions in plain TypeScript, bit-identical to the native kernels (native/kernels/convert.h):
 * f16 and bf16 round to nearest even and keep NaN a quiet NaN; Q8_0 follows ggml's reference
 * quantizer (d = amax/127 in f32, q = roundf(x · (1/d)) half away from zero, d stored as f16).
 * Floats are handled through their bit patterns (Uint32Array views), never through a JS number
 * where that could change a NaN payload.
 */
import { expectArray, expectLength } from '../checks.js';
import type { ConversionOps } from '../types.js';

const Q8_BLOCK = 32;
const Q8_BLOCK_BYTES = 34;

/** IEEE binary16 bits of the f32 with bits `x` (uint32), round to nearest even. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 | ((abs >>> 13) & 0x3ff) : 0);
  if (abs >= 0x477ff000) return sign | 0x7c00; // rounds up to infinity
  if (abs < 0x38800000) {
    // the result is subnormal (or zero): shift the 24-bit significand into 10 bits
    if (abs < 0x33000000) return sign; // below half the smallest subnormal
    const e = abs >>> 23;
    const m = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - e;
    let r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (r & 1) === 1)) r++;
    return sign | r;
  }
  // normal: rebias the exponent (−112 << 23, as uint32 arithmetic) and round to nearest even
  const r = (abs + 0xc8000fff + ((abs >>> 13) & 1)) >>> 0;
  return (sign | (r >>> 13)) & 0xffff;
}

/** f32 bits (uint32) of the binary16 value `h`. */
export function f16ToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0) {
    if (mant === 0) return sign >>> 0;
    let e = -1; // subnormal: renormalize
    do {
      e++;
      mant <<= 1;
    } while ((mant & 0x400) === 0);
    return (sign | ((127 - 15 - e) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  if (exp === 31) return (sign | 0x7f800000 | (mant << 13)) >>> 0;
  return (sign | ((exp + 127 - 15) << 23) | (mant << 13)) >>> 0;
}

/** bfloat16 bits of the f32 with bits `x` (uint32), round to nearest even, NaN kept quiet. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 0) >>> 16;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The f32 value of binary16 bits. */
export function f16ToNumber(h: number): number {
  scratchU32[0] = f16ToF32Bits(h);
  return scratchF32[0]!;
}

/** Binary16 bits of a number (rounded to f32 first, then to f16). */
export function numberToF16(v: number): number {
  scratchF32[0] = v;
  return f32BitsToF16(scratchU32[0]!);
}

const bitsOf = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

type ArrayKind = { new (n: number): ArrayBufferView; name: string };

/** `expected` is a function of x, called once x is known to be an array (a bad x must not fail reading x.length). */
function checkPair(out: ArrayLike<number> & ArrayBufferView, outKind: ArrayKind, x: ArrayLike<number> & ArrayBufferView, xKind: ArrayKind, expected: number | (() => number), shape: string): void {
  expectArray('x', x, xKind);
  expectArray('out', out, outKind);
  expectLength('out', out, typeof expected === 'function' ? expected() : expected, shape);
  expectDisjoint(out, x);
}

/** Throws a RangeError if out and x share bytes (the converters read x while writing out). */
export function expectDisjoint(out: ArrayBufferView, x: ArrayBufferView, name = 'x'): void {
  if (out.buffer !== x.buffer) return;
  const o0 = out.byteOffset, o1 = o0 + out.byteLength, x0 = x.byteOffset, x1 = x0 + x.byteLength;
  if (o1 > o0 && x1 > x0 && o0 < x1 && x0 < o1) throw new RangeError(`tensorloom: out must not overlap ${name}`);
}

/** Quantizes one block of 32 values of x (from index i) into out at byte offset o. */
function quantizeBlock(out: Uint8Array, o: number, x: Float32Array, i: number): void {
  let amax = 0;
  for (let j = 0; j < Q8_BLOCK; j++) {
    const a = Math.abs(x[i + j]!);
    if (a > amax) amax = a; // NaN compares false: skipped, like fmaxf
  }
  const d = Math.fround(amax / 127);
  const id = d !== 0 ? Math.fround(1 / d) : 0;
  const h = numberToF16(d);
  out[o] = h & 0xff;
  out[o + 1] = h >>> 8;
  for (let j = 0; j < Q8_BLOCK; j++) {
    const v = Math.fround(x[i + j]! * id);
    const q = v < 0 ? -Math.round(-v) : Math.round(v); // roundf: half away from zero
    out[o + 2 + j] = (Number.isNaN(q) ? 0 : q) & 0xff;
  }
}

export const jsConversions: ConversionOps = {
  f32ToF16(out, x) {
    checkPair(out, Uint16Array, x, Float32Array, () => x.length, '[x.length]');
    const bits = bitsOf(x);
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToF16(bits[i]!);
  },
  f16ToF32(out, x) {
    checkPair(out, Float32Array, x, Uint16Array, () => x.length, '[x.length]');
    const bits = bitsOf(out);
    for (let i = 0; i < x.length; i++) bits[i] = f16ToF32Bits(x[i]!);
  },
  f32ToBf16(out, x) {
    checkPair(out, Uint16Array, x, Float32Array, () => x.length, '[x.length]');
    const bits = bitsOf(x);
    for (let i = 0; i < bits.length; i++) out[i] = f32BitsToBf16(bits[i]!);
  },
  bf16ToF32(out, x) {
    checkPair(out, Float32Array, x, Uint16Array, () => x.length, '[x.length]');
    const bits = bitsOf(out);
    for (let i = 0; i < x.length; i++) bits[i] = (x[i]! << 16) >>> 0;
  },
  quantizeQ8_0(out, x) {
    expectArray('x', x, Float32Array);
    if (x.length % Q8_BLOCK !== 0) {
      throw new RangeError(`tensorloom: x has ${x.length} elements, expected a multiple of 32 (q8_0 blocks)`);
    }
    const blocks = x.length / Q8_BLOCK;
    checkPair(out, Uint8Array, x, Float32Array, blocks * Q8_BLOCK_BYTES, `[${blocks} blocks of 34 bytes]`);
    for (let b = 0; b < blocks; b++) quantizeBlock(out, b * Q8_BLOCK_BYTES, x, b * Q8_BLOCK);
  },
  dequantizeQ8_0(out, x) {
    expectArray('x', x, Uint8Array);
    if (x.length % Q8_BLOCK_BYTES !== 0) {
      throw new RangeError(`tensorloom: x has ${x.length} bytes, expected a multiple of 34 (q8_0 blocks)`);
    }
    const blocks = x.length / Q8_BLOCK_BYTES;
    checkPair(out, Float32Array, x, Uint8Array, blocks * Q8_BLOCK, `[${blocks} blocks × 32]`);
    dequantizeRows(out, 0, x, 0, blocks);
  },
};

/** Expands `blocks` Q8_0 blocks of x (from byte offset xo) into out (from index o): d · q. */
export function dequantizeRows(out: Float32Array, o: number, x: Uint8Array, xo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++) {
    const p = xo + b * Q8_BLOCK_BYTES;
    const d = f16ToNumber(x[p]! | (x[p + 1]! << 8));
    for (let j = 0; j < Q8_BLOCK; j++) out[o + b * Q8_BLOCK + j] = d * ((x[p + 2 + j]! << 24) >> 24);
  }
}
