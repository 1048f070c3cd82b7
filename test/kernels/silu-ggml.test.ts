/**
 * SiLU / SwiGLU on the SIMD paths equal llama.cpp's bit for bit (native/kernels/vmath_avx*.h).
 *
 * ggml's CPU backend computes silu(x) = x / (1 + exp(−x)) with its own vector exp (the Arm
 * optimized-routines expf: 1.5·2^23 shift rounding, two-part ln 2, degree-5 polynomial; 2^n applied
 * by scalef on its AVX-512 build, through the exponent bits on its AVX2 build). One ulp of
 * difference in a SwiGLU output is enough to move the next matmul's int8 activation across a
 * rounding boundary now and then, so greedy decoding drifts from llama.cpp's; the kernels therefore
 * use the same arithmetic. The reference here is that algorithm written in JS with exact f32
 * arithmetic (Math.fround, and a correctly rounded f32 fma below), independent of the C++ code.
 * Full vectors only: the scalar tail uses the C library's expf, checked by ops.test.ts's tolerances.
 */
import { describe, expect, it } from 'vitest';
import { native, randomArray, variants, withVariant } from './variants.js';

const f = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => ((f32[0] = x), u32[0]!);
const fromBits = (b: number): number => ((u32[0] = b >>> 0), f32[0]!);
const nextUp = (x: number): number => (x >= 0 ? fromBits(bitsOf(x) + 1) : fromBits(bitsOf(x) - 1));
const nextDown = (x: number): number => (x > 0 ? fromBits(bitsOf(x) - 1) : fromBits(bitsOf(x) + 1));

/** a·b + c rounded once to f32 (a, b, c f32): the double product is exact, TwoSum gives the sum's error. */
function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const bb = s - p;
  const e = p - (s - bb) + (c - bb);
  const r = f(s);
  if (e === 0 || r === s || !Number.isFinite(r)) return r;
  const [lo, hi] = r > s ? [nextDown(r), r] : [r, nextUp(r)];
  if ((lo + hi) / 2 !== s) return r; // not a tie: the tiny error cannot change the rounding
  return e > 0 ? hi : lo;
}

/** A C hex-float literal 0x1.<frac>p<exp>, which JS does not parse. */
const hexf = (frac: string, exp: number): number => (parseInt(`1${frac}`, 16) / 16 ** frac.length) * 2 ** exp;
const SHIFT = hexf('8', 23);
const C = [f(hexf('ffffec', -1)), f(hexf('fffdb6', -2)), f(hexf('555e66', -3)), f(hexf('573e2e', -5)), f(hexf('0e4020', -7))];

function reduce(x: number): { n: number; b: number; z: number } {
  const z = fmaf(x, f(hexf('715476', 0)), SHIFT);
  const n = f(z - SHIFT);
  const b = fmaf(-n, f(hexf('7f7d1c', -20)), fmaf(-n, f(hexf('62e4', -1)), x));
  return { n, b, z };
}
function polyHi(b: number): { u: number; hi: number } {
  const u = f(b * b);
  return { u, hi: fmaf(fmaf(C[4]!, b, C[3]!), u, fmaf(C[2]!, b, C[1]!)) };
}

/** ggml's exp on its AVX-512 build. */
function exp512(x: number): number {
  const { n, b } = reduce(x);
  const { u, hi } = polyHi(b);
  const j = fmaf(hi, u, fmaf(C[0]!, b, 1));
  if (Math.abs(n) > 192) return n <= 0 ? 0 : Infinity;
  return f(j * 2 ** n);
}

/** ggml's exp on its AVX2 build. */
function exp256(x: number): number {
  const { n, b, z } = reduce(x);
  const { u, hi } = polyHi(b);
  const j = fmaf(hi, u, f(C[0]! * b));
  const e = (bitsOf(z) << 23) | 0;
  const k = fromBits((e + bitsOf(1)) | 0);
  if (!(Math.abs(n) > 126)) return fmaf(k, j, k);
  const g = n <= 0 ? 0x82000000 | 0 : 0;
  const s1 = fromBits((g + 0x7f000000) | 0);
  const s2 = fromBits((e - g) | 0);
  if (Math.abs(n) > 192) return f(s1 * s1);
  return f(fmaf(s2, j, s2) * s1);
}

const silu = (exp: (x: number) => number) => (x: number): number => f(x / f(1 + exp(f(0 - x))));


describe('SiLU and SwiGLU equal llama.cpp\'s arithmetic bit for bit on the SIMD paths', () => {
  const n = 4096;
  const x = randomArray(n, 7, -30, 30);
  // the polynomial's range edges and the split/saturation paths of the exp (|x| ≳ 87, ≳ 133)
  const special = [0, -0, 1e-30, -1e-30, 87.5, -87.5, 88.7, -88.7, 90, -90, 100, -100, 104, -104, 130, -130, 140, -140, 200, -200];
  x.set(special, 0);
  const up = randomArray(n, 8, -4, 4);
  for (const v of variants().filter((v) => v.isa === 'avx2' || v.isa === 'avx512')) {
    const ref = silu(v.isa === 'avx512' ? exp512 : exp256);
    it.skipIf(v.skip !== undefined)(`${v.title}`, () => {
      withVariant(v, () => {
        const s = new Float32Array(n);
        const g = new Float32Array(n);
        native.silu(s, x);
        native.swiglu(g, x, up);
        let bad = 0;
        let first = '';
        for (let i = 0; i < n; i++) {
          const want = ref(x[i]!);
          const wantG = f(want * up[i]!);
          if (!Object.is(s[i], want) || !Object.is(g[i], wantG)) {
            if (!first) first = `x = ${x[i]}: silu ${s[i]} (want ${want}), swiglu ${g[i]} (want ${wantG})`;
            bad++;
          }
        }
        expect(bad, first).toBe(0);
      });
    });
  }
});
