/**
 * llama.cpp's CPU f32 arithmetic in JS, exactly, for the references of the *-ggml kernel tests:
 * a correctly rounded f32 fma from exact BigInt arithmetic (independent of the JS baseline's
 * TwoSum fmaf in ts/backend/js/fmaf.ts, which rope-ggml.test.ts checks against it), and ggml's
 * vector expf (the Arm optimized-routines expf: 1.5·2^23 shift rounding, two-part ln 2, degree-5
 * polynomial; 2^n applied by scalef on its AVX-512 build, through the exponent bits on its AVX2
 * build). Math.fround after every f32 step.
 */

const f = Math.fround;

// ── exact f32 fma from BigInt arithmetic ─────────────────────────────────────────────────────
const SCALE = 600n; // every value below is an integer multiple of 2^-600
const view = new DataView(new ArrayBuffer(8));
/** x (a finite double) as an integer N with x = N · 2^-600. */
function toFixed(x: number): bigint {
  if (x === 0) return 0n;
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let m = bits & ((1n << 52n) - 1n);
  if (exp !== 0) m |= 1n << 52n;
  const shift = BigInt((exp === 0 ? 1 : exp) - 1075) + SCALE;
  const n = m << shift;
  return x < 0 ? -n : n;
}
/** N · 2^-scale rounded to nearest-even f32. */
function roundToF32(n: bigint, scale: bigint): number {
  if (n === 0n) return 0;
  const neg = n < 0n;
  const a = neg ? -n : n;
  const len = BigInt(a.toString(2).length);
  let shift = len - 24n; // keep 24 significant bits…
  if (shift < scale - 149n) shift = scale - 149n; // …but no finer than f32's smallest subnormal
  let q = shift > 0n ? a >> shift : a << -shift;
  if (shift > 0n) {
    const rem = a - (q << shift);
    const half = 1n << (shift - 1n);
    if (rem > half || (rem === half && (q & 1n) === 1n)) q += 1n;
  }
  const r = Number(q) * 2 ** Number(shift - scale);
  return f(neg ? -r : r);
}
/** a·b + c (finite f32 values) rounded once to f32, as the hardware FMA and C's fmaf compute it. */
export const exactFmaf = (a: number, b: number, c: number): number => roundToF32(toFixed(a) * toFixed(b) + (toFixed(c) << SCALE), 2n * SCALE);

// ── f32 bit patterns ─────────────────────────────────────────────────────────────────────────
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** The f32 bit pattern of x. */
export const bitsOf = (x: number): number => ((f32[0] = x), u32[0]!);
/** The f32 whose bit pattern is b. */
export const fromBits = (b: number): number => ((u32[0] = b >>> 0), f32[0]!);

// ── ggml's expf ──────────────────────────────────────────────────────────────────────────────
/** A C hex-float literal 0x1.<frac>p<exp>, which JS does not parse. */
const hexf = (frac: string, exp: number): number => (parseInt(`1${frac}`, 16) / 16 ** frac.length) * 2 ** exp;
const SHIFT = hexf('8', 23);
const C = [f(hexf('ffffec', -1)), f(hexf('fffdb6', -2)), f(hexf('555e66', -3)), f(hexf('573e2e', -5)), f(hexf('0e4020', -7))];

/** x = n·ln 2 + b, n rounded by the 1.5·2^23 shift (z holds it in its low mantissa bits). */
function reduce(x: number): { n: number; b: number; z: number } {
  const z = exactFmaf(x, f(hexf('715476', 0)), SHIFT);
  const n = f(z - SHIFT);
  const b = exactFmaf(-n, f(hexf('7f7d1c', -20)), exactFmaf(-n, f(hexf('62e4', -1)), x));
  return { n, b, z };
}
function polyHi(b: number): { u: number; hi: number } {
  const u = f(b * b);
  return { u, hi: exactFmaf(exactFmaf(C[4]!, b, C[3]!), u, exactFmaf(C[2]!, b, C[1]!)) };
}

/** ggml's exp on its AVX-512 build. */
export function exp512(x: number): number {
  const { n, b } = reduce(x);
  const { u, hi } = polyHi(b);
  const j = exactFmaf(hi, u, exactFmaf(C[0]!, b, 1));
  if (Math.abs(n) > 192) return n <= 0 ? 0 : Infinity;
  return f(j * 2 ** n);
}

/** ggml's exp on its AVX2 build. */
export function exp256(x: number): number {
  const { n, b, z } = reduce(x);
  const { u, hi } = polyHi(b);
  const j = exactFmaf(hi, u, f(C[0]! * b));
  const e = (bitsOf(z) << 23) | 0;
  const k = fromBits((e + bitsOf(1)) | 0);
  if (!(Math.abs(n) > 126)) return exactFmaf(k, j, k);
  const g = n <= 0 ? 0x82000000 | 0 : 0;
  const s1 = fromBits((g + 0x7f000000) | 0);
  const s2 = fromBits((e - g) | 0);
  if (Math.abs(n) > 192) return f(s1 * s1);
  return f(exactFmaf(s2, j, s2) * s1);
}
