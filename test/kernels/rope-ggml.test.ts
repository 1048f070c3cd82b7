/**
 * RoPE equals ggml's arithmetic (ggml_rope_cache_init + rotate_pairs in llama.cpp's CPU backend),
 * on every native ISA path and in the JS baseline.
 *
 * ggml builds the angles in f32: scale = powf(θ, -2/dims), angle_0 = (float)pos, angle_{i+1} =
 * angle_i·scale; cos/sin of each f32 angle; and its FMA builds (the libggml-cpu variant
 * node-llama-cpp loads on AVX2/AVX-512 CPUs, checked by disassembly) rotate as
 * x0' = fma(x0, c, -(x1·s)), x1' = fma(x0, s, x1·c). One ulp of a rotated key is enough to move a
 * later int8 activation across a rounding boundary, so greedy decodes drift from llama.cpp's; the
 * kernels therefore compute exactly this. The reference below is that formula in JS: Math.fround
 * at each f32 step, and an fma from exact BigInt arithmetic (ggml-arith.ts: independent of the baseline's TwoSum one).
 *
 * cos/sin: the reference takes the correctly rounded f32 value of the f32 angle (what the JS
 * baseline stores). The native kernel calls the C library's cosf/sinf as ggml does (same library,
 * same bits as llama.cpp), which are within 1 ulp of that, equal for ~99 % of angles. So the native
 * tables are checked to 1 ulp (a wrong angle is off by many ulps at these positions), and the
 * rotation is checked bit for bit given the native table.
 */
import { describe, expect, it } from 'vitest';
import type { RopeOptions } from '../../ts/index.js';
import { fmaf } from '../../ts/backend/js/fmaf.js';
import { bitsOf, exactFmaf } from './ggml-arith.js';
import { js, native, randomArray, rng, variants, withVariant } from './variants.js';

const f = Math.fround;

// ── ggml's RoPE, step by step ────────────────────────────────────────────────────────────────
/** ggml's f32 angles for one position: angle_i, i < dims/2. */
function ggmlAngles(pos: number, theta: number, dims: number): number[] {
  const scale = f(Math.pow(f(theta), f(-2 / dims)));
  const out: number[] = [];
  let angle = f(pos);
  for (let i = 0; i < dims / 2; i++) {
    out.push(angle);
    angle = f(angle * scale);
  }
  return out;
}
const pairOf = (i: number, dims: number, layout: RopeOptions['layout']): [number, number] => (layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + dims / 2]);
/** Rotates x[T, heads, D] (positions pos0 + t) with the given cos/sin per position and pair. */
function rotateWith(x: Float32Array, T: number, heads: number, D: number, dims: number, layout: RopeOptions['layout'], cs: (t: number, i: number) => [number, number]): Float32Array {
  const y = x.slice();
  for (let t = 0; t < T; t++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < dims / 2; i++) {
        const [c, s] = cs(t, i);
        const [a, b] = pairOf(i, dims, layout);
        const o = (t * heads + h) * D;
        const x0 = x[o + a]!;
        const x1 = x[o + b]!;
        y[o + a] = exactFmaf(x0, c, -f(x1 * s));
        y[o + b] = exactFmaf(x0, s, f(x1 * c));
      }
  return y;
}

/** Distance in f32 ulps (same-sign values; 0 and -0 equal). */
const ulps = (a: number, b: number): number => {
  if (a === b) return 0;
  const ia = bitsOf(a);
  const ib = bitsOf(b);
  return (ia >>> 31) !== (ib >>> 31) ? Infinity : Math.abs(ia - ib);
};
const firstDiff = (a: Float32Array, b: Float32Array): number => a.findIndex((v, i) => !Object.is(v, b[i]) && !(v === 0 && b[i] === 0));

const CASES: { rope: RopeOptions; D: number; pos: number }[] = [
  { rope: { theta: 10000, layout: 'interleaved' }, D: 64, pos: 0 },
  { rope: { theta: 10000, layout: 'interleaved' }, D: 128, pos: 4000 },
  { rope: { theta: 10000, layout: 'half' }, D: 64, pos: 700 },
  { rope: { theta: 500000, layout: 'half', dims: 32 }, D: 64, pos: 123 },
  { rope: { theta: 1000000, layout: 'interleaved', dims: 6 }, D: 10, pos: 31 },
  { rope: { theta: 10000, layout: 'interleaved' }, D: 8, pos: 90 }, // stories260K's head size
];
const T = 9;
const HEADS = 3;

describe('fmaf (the JS baseline\'s f32 fused multiply-add)', () => {
  it('equals the exactly rounded a·b + c on random, cancelling and tie-prone inputs', () => {
    const r = rng(7);
    for (let n = 0; n < 6000; n++) {
      const a = f(r(-4, 4));
      const b = f(r(-4, 4));
      // c near -a·b (cancellation), tiny against a·b (sticky bits), or random.
      const kind = n % 3;
      const c = kind === 0 ? f(-a * b * (1 + r(-1e-6, 1e-6))) : kind === 1 ? f(a * b * 2 ** -30 * r(-1, 1)) : f(r(-8, 8));
      expect(fmaf(a, b, c), `fmaf(${a}, ${b}, ${c})`).toBe(exactFmaf(a, b, c));
    }
    // a·b exactly halfway between two f32 values, nudged by a c far below: one rounding decides.
    const a = f(1 + 2 ** -12);
    const ab = a * a; // 1 + 2^-11 + 2^-24: a tie at f32 precision
    for (const c of [2 ** -60, -(2 ** -60), 0]) expect(fmaf(a, a, c)).toBe(exactFmaf(a, a, c));
    expect(exactFmaf(a, a, 2 ** -60)).toBeGreaterThan(f(ab));
  });
});

describe('RoPE (JS baseline) equals ggml\'s f32 formula bit for bit', () => {
  for (const c of CASES) {
    const { rope, D, pos } = c;
    const dims = rope.dims ?? D;
    it(`${rope.layout}, θ=${rope.theta}, dims ${dims} of ${D}, positions ${pos}…${pos + T - 1}`, () => {
      const x = randomArray(T * HEADS * D, 3, -3, 3);
      const got = x.slice();
      js.rope(got, T, HEADS, D, pos, rope);
      const want = rotateWith(x, T, HEADS, D, dims, rope.layout, (t, i) => {
        const a = ggmlAngles(pos + t, rope.theta, dims)[i]!;
        return [f(Math.cos(a)), f(Math.sin(a))];
      });
      const at = firstDiff(got, want);
      expect(at, at < 0 ? '' : `element ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
    });
  }
});

for (const variant of variants()) {
  describe.skipIf(variant.skip !== undefined)(`RoPE (native ${variant.title}) computes ggml's formula`, () => {
    for (const c of CASES) {
      const { rope, D, pos } = c;
      const dims = rope.dims ?? D;
      it(`${rope.layout}, θ=${rope.theta}, dims ${dims} of ${D}, positions ${pos}…${pos + T - 1}`, () => {
        withVariant(variant, () => {
          // The kernel's cos/sin table, read back by rotating unit vectors (x0 = 1, x1 = 0 → (c, s)).
          const unit = new Float32Array(T * D);
          for (let t = 0; t < T; t++) for (let i = 0; i < dims / 2; i++) unit[t * D + pairOf(i, dims, rope.layout)[0]] = 1;
          native.rope(unit, T, 1, D, pos, rope);
          const table = (t: number, i: number): [number, number] => {
            const [a, b] = pairOf(i, dims, rope.layout);
            return [unit[t * D + a]!, unit[t * D + b]!];
          };
          let equal = 0;
          let total = 0;
          for (let t = 0; t < T; t++) {
            const angles = ggmlAngles(pos + t, rope.theta, dims);
            for (let i = 0; i < dims / 2; i++) {
              const [cn, sn] = table(t, i);
              const [cr, sr] = [f(Math.cos(angles[i]!)), f(Math.sin(angles[i]!))];
              expect(ulps(cn, cr), `cos at position ${pos + t}, pair ${i}: ${cn} vs ${cr}`).toBeLessThanOrEqual(1);
              expect(ulps(sn, sr), `sin at position ${pos + t}, pair ${i}: ${sn} vs ${sr}`).toBeLessThanOrEqual(1);
              equal += Number(cn === cr) + Number(sn === sr);
              total += 2;
            }
          }
          expect(equal / total).toBeGreaterThan(0.9);
          // The rotation, bit for bit, given that table.
          const x = randomArray(T * HEADS * D, 5, -3, 3);
          const got = x.slice();
          native.rope(got, T, HEADS, D, pos, rope);
          const want = rotateWith(x, T, HEADS, D, dims, rope.layout, table);
          const at = firstDiff(got, want);
          expect(at, at < 0 ? '' : `element ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
        });
      });
    }
  });
}

describe('RoPE stays within the f32 angles\' error of the exact rotation', () => {
  // angle_i carries ≤ i+1 roundings of 2^-24 relative (plus powf's), so |Δangle| ≤ pos·(i+2)·2^-24
  // and each output moves by at most |Δangle|·(|x0| + |x1|), plus an ulp or two of the products.
  for (const [name, b] of [['native', native], ['js', js]] as const) {
    it(`${name}: θ=10000, D=64, positions 0…2047 against pos·θ^(-2i/dims) in f64`, () => {
      const D = 64;
      const n = 2048;
      const rope: RopeOptions = { theta: 10000, layout: 'interleaved' };
      const x = randomArray(n * D, 11, -2, 2);
      const got = x.slice();
      b.rope(got, n, 1, D, 0, rope);
      let worst = 0;
      let over = '';
      for (let p = 0; p < n; p++)
        for (let i = 0; i < D / 2; i++) {
          const angle = p * Math.pow(10000, (-2 * i) / D);
          const [x0, x1] = [x[p * D + 2 * i]!, x[p * D + 2 * i + 1]!];
          const bound = p * (i + 2) * 2 ** -24 * (Math.abs(x0) + Math.abs(x1)) + 4e-7;
          const e0 = Math.abs(got[p * D + 2 * i]! - (x0 * Math.cos(angle) - x1 * Math.sin(angle)));
          const e1 = Math.abs(got[p * D + 2 * i + 1]! - (x0 * Math.sin(angle) + x1 * Math.cos(angle)));
          if (!(Math.max(e0, e1) <= bound) && !over) over = `position ${p}, pair ${i}: error ${Math.max(e0, e1)} > ${bound}`;
          worst = Math.max(worst, e0, e1);
        }
      expect(over).toBe('');
      expect(worst).toBeGreaterThan(1e-5); // the f32 angles really are not the exact ones at large positions
    });
  }
});
