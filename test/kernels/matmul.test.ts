/**
 * matmul family: the native kernels on every ISA path (scalar reference, AVX2, AVX-512, AVX-512 BF16:
 * vdpbf16ps for bf16 weights' GEMM, where the CPU has it) against the
 * pure-JS baseline, on awkward sizes (1, 3, 17, 63, 65, 127, 1000 and sizes crossing every regime
 * and block: GEMV M = 1, dot-product kernel M ≤ 32, packed GEMM M ≥ 33 with KC = 512, MC = 48,
 * NC = 512 and the MR×NR tiles 6×16 / 6×32), the float weight dtypes (f32, f16, bf16; quantized
 * types: quant.test.ts), 1 and
 * 2 threads; and bad calls that must throw a named TypeError/RangeError on both backends.
 *
 * Tolerance (same for every dtype): both sides expand the weights to f32 exactly (f16/bf16
 * conversion and Q8_0's f32(d)·q are exact), so they differ only in summation: the JS baseline sums
 * in f64, the kernels in f32 in a blocked order. We allow |native − js| ≤ 1e-5 · Σ_k |a_k · w_k|:
 * far above f32 rounding of these sums (≈ 1e-7 relative here) and far below any real bug (a lost or
 * doubled term moves the result by ≈ 1/K of that sum, ≥ 1e-3 at K = 1000).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/index.js';
import type { DType, Weights } from '../../ts/index.js';
import { isaPaths, randomF32, rng, withIsa } from './helpers.js';

const native = getBackend('native');
const js = getBackend('js');
const REL_TOL = 1e-5;

// [M, N, K]: GEMV (M = 1), skinny M, and GEMM shapes crossing every block size.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 3, 17], [1, 1000, 63], [1, 17, 1000], [1, 127, 65], [1, 1000, 1000],
  [3, 17, 63], [3, 1000, 127], [17, 65, 3], [17, 63, 1000], [63, 127, 17], [65, 1, 65], [65, 63, 127],
  [127, 65, 1000], [1000, 17, 65], [150, 40, 300], [7, 2050, 40], [145, 33, 513], [32, 70, 100], [33, 65, 1000],
  [40, 1030, 70], [100, 530, 1100],
];

/** Q8_0 needs K % 32 == 0: round K up. */
const kFor = (dtype: DType, K: number) => (dtype === 'q8_0' ? Math.ceil(K / 32) * 32 : K);

/** Random weights of a dtype, built from random f32 through the JS conversions (themselves tested in conversions.test.ts). */
function randomWeights(dtype: DType, N: number, K: number, rand: () => number): Weights {
  const f = randomF32(N * K, rand);
  if (dtype === 'f32') return { dtype, rows: N, cols: K, data: f };
  if (dtype === 'f16' || dtype === 'bf16') {
    const h = new Uint16Array(N * K);
    if (dtype === 'f16') js.f32ToF16(h, f);
    else js.f32ToBf16(h, f);
    return { dtype, rows: N, cols: K, data: h };
  }
  const q = new Uint8Array((N * K) / 32 * 34);
  js.quantizeQ8_0(q, f);
  return { dtype, rows: N, cols: K, data: q };
}

/** |w| in the same dtype (for the error bound Σ|a·w|). */
function absWeights(w: Weights): Weights {
  if (w.dtype === 'f32') return { ...w, data: (w.data as Float32Array).map(Math.abs) };
  if (w.dtype === 'f16' || w.dtype === 'bf16') return { ...w, data: (w.data as Uint16Array).map((h) => h & 0x7fff) };
  const q = new Uint8Array(w.data as Uint8Array);
  for (let b = 0; b < q.length; b += 34) for (let j = 0; j < 32; j++) q[b + 2 + j] = Math.abs((q[b + 2 + j]! << 24) >> 24);
  return { ...w, data: q };
}

function expectClose(got: Float32Array, want: Float32Array, bound: Float32Array, what: string): void {
  let worst = -1, worstRatio = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const allowed = REL_TOL * bound[i]! + 1e-30;
    if (!(err <= allowed) && (worst < 0 || err / allowed > worstRatio)) { worst = i; worstRatio = err / allowed; }
  }
  if (worst >= 0) {
    expect.fail(`${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} ± ${REL_TOL * bound[worst]!}`);
  }
}

/**
 * f16 / bf16 weights take activations rounded to f16 / bf16 (ggml's vec_dot_type, matmul.h): the
 * reference rounds a the same way (round trip through the JS conversions, tested in
 * conversions.test.ts) before the exact-weights f64 dot.
 */
function roundActivations(dtype: DType, a: Float32Array): Float32Array {
  if (dtype !== 'f16' && dtype !== 'bf16') return a;
  const h = new Uint16Array(a.length), r = new Float32Array(a.length);
  if (dtype === 'f16') { js.f32ToF16(h, a); js.f16ToF32(r, h); } else { js.f32ToBf16(h, a); js.bf16ToF32(r, h); }
  return r;
}

interface Case { M: number; N: number; K: number; a: Float32Array; w: Weights; want: Float32Array; bound: Float32Array }

// Inputs and JS results per dtype, computed once and shared by every ISA path and thread count.
const cases = new Map<DType, Case[]>();
function casesFor(dtype: DType): Case[] {
  let list = cases.get(dtype);
  if (!list) {
    const rand = rng(1234 + dtype.length);
    list = SHAPES.map(([M, N, K0]) => {
      const K = kFor(dtype, K0);
      const a = randomF32(M * K, rand);
      const w = randomWeights(dtype, N, K, rand);
      const want = new Float32Array(M * N);
      js.matmulT(want, roundActivations(dtype, a), w, M);
      const bound = new Float32Array(M * N);
      js.matmulT(bound, a.map(Math.abs), absWeights(w), M);
      return { M, N, K, a, w, want, bound };
    });
    cases.set(dtype, list);
  }
  return list;
}

// Float weight types only: the quantized ones (q8_0 included) multiply quantized activations with
// integer dot products, as ggml does; test/kernels/quant.test.ts checks them against that reference.
const DTYPES: DType[] = ['f32', 'f16', 'bf16'];
const startThreads = native.info().threads;
afterAll(() => native.setThreads(startThreads));

for (const { isa, runnable, why } of isaPaths({ bf16: true })) {
  describe.skipIf(!runnable)(`native matmul on the ${isa} path${why}`, () => {
    for (const threads of [1, 2]) {
      for (const dtype of DTYPES) {
        it(`matmulT with ${dtype} weights matches the JS baseline (${threads} thread${threads > 1 ? 's' : ''})`, () => {
          native.setThreads(threads);
          withIsa(isa, () => {
            for (const c of casesFor(dtype)) {
              const out = new Float32Array(c.M * c.N).fill(NaN);
              native.matmulT(out, c.a, c.w, c.M);
              expectClose(out, c.want, c.bound, `${isa} ${dtype} M=${c.M} N=${c.N} K=${c.K}`);
            }
          });
        });
      }

      // Float projections at GEMM sizes run as one job (A rounded and packed once, column chunks
      // of every projection handed out to the threads): each output must be exactly what its own
      // matmulT gives, also with a quantized projection and a second float type in the list (those
      // run on their own) and with K past one K block and A too large to share (K = 21000: its rounding
      // then happens before the threads start, checked against the JS baseline too).
      it(`matmulTMany with float weights equals separate matmulT calls (${threads} thread${threads > 1 ? 's' : ''})`, () => {
        native.setThreads(threads);
        const rand = rng(4321);
        withIsa(isa, () => {
          for (const [M, K, dts] of [
            [128, 96, ['f16', 'f16', 'f16']],
            [33, 70, ['bf16', 'bf16']],
            [65, 608, ['f16', 'f32', 'q8_0', 'f16']],
            [40, 128, ['f32', 'f32']],
            [200, 21000, ['f16', 'bf16', 'f16']],
          ] as [number, number, DType[]][]) {
            const a = randomF32(M * K, rand);
            const ws = dts.map((dt, i) => randomWeights(dt, (K > 20000 ? [7, 5, 7] : [70, 33, 130, 7])[i]!, K, rand));
            const outs = ws.map((w) => new Float32Array(M * w.rows).fill(NaN));
            native.matmulTMany(outs, a, ws, M);
            ws.forEach((w, i) => {
              const want = new Float32Array(M * w.rows);
              native.matmulT(want, a, w, M);
              expect(outs[i], `${isa} M=${M} K=${K} projection ${i} (${w.dtype})`).toEqual(want);
            });
            if (K > 20000) {
              const w = ws[2]!, want = new Float32Array(M * w.rows), bound = new Float32Array(M * w.rows);
              js.matmulT(want, roundActivations(w.dtype, a), w, M);
              js.matmulT(bound, a.map(Math.abs), absWeights(w), M);
              expectClose(outs[2]!, want, bound, `${isa} matmulTMany M=${M} K=${K}`);
            }
          }
        });
      });

      it(`matmul (a · b, f32) matches the JS baseline (${threads} thread${threads > 1 ? 's' : ''})`, () => {
        native.setThreads(threads);
        const rand = rng(99);
        withIsa(isa, () => {
          for (const [M, N, K] of SHAPES) {
            const a = randomF32(M * K, rand), b = randomF32(K * N, rand);
            const want = new Float32Array(M * N), bound = new Float32Array(M * N);
            js.matmul(want, a, b, M, K, N);
            js.matmul(bound, a.map(Math.abs), b.map(Math.abs), M, K, N);
            const out = new Float32Array(M * N).fill(NaN);
            native.matmul(out, a, b, M, K, N);
            expectClose(out, want, bound, `${isa} matmul M=${M} N=${N} K=${K}`);
          }
        });
      });
    }
  });
}

describe('the JS baseline itself', () => {
  it('matmulT equals matmul with the transposed weights, and a hand-computed 2×2 product', () => {
    const rand = rng(7);
    const [M, N, K] = [5, 7, 9];
    const a = randomF32(M * K, rand), w = randomF32(N * K, rand);
    const wT = new Float32Array(K * N);
    for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wT[k * N + n] = w[n * K + k]!;
    const o1 = new Float32Array(M * N), o2 = new Float32Array(M * N);
    js.matmulT(o1, a, { dtype: 'f32', rows: N, cols: K, data: w }, M);
    js.matmul(o2, a, wT, M, K, N);
    expect(o1).toEqual(o2);
    const out = new Float32Array(4);
    js.matmulT(out, new Float32Array([1, 2, 3, 4]), { dtype: 'f32', rows: 2, cols: 2, data: new Float32Array([5, 6, 7, 8]) }, 2);
    expect([...out]).toEqual([1 * 5 + 2 * 6, 1 * 7 + 2 * 8, 3 * 5 + 4 * 6, 3 * 7 + 4 * 8]);
  });
});

// ── bad calls: both backends throw the same kind of error, naming the argument ────────────────
for (const backend of [native, js]) {
  describe(`${backend.name} matmul rejects bad calls`, () => {
    const f32w = (N: number, K: number): Weights => ({ dtype: 'f32', rows: N, cols: K, data: new Float32Array(N * K) });

    it('wrong typed-array kinds → TypeError naming the argument', () => {
      expect(() => backend.matmulT(new Float64Array(6) as unknown as Float32Array, new Float32Array(6), f32w(3, 3), 2)).toThrow(
        expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/out must be a Float32Array/) }),
      );
      expect(() => backend.matmulT(new Float32Array(6), [1, 2, 3] as unknown as Float32Array, f32w(3, 3), 2)).toThrow(TypeError);
      const f16AsF32: Weights = { dtype: 'f16', rows: 3, cols: 3, data: new Float32Array(9) };
      expect(() => backend.matmulT(new Float32Array(6), new Float32Array(6), f16AsF32, 2)).toThrow(/w\.data \(f16\) must be a Uint16Array/);
      expect(() => backend.matmulT(new Float32Array(6), new Float32Array(6), null as unknown as Weights, 2)).toThrow(/w must be a Weights object/);
      expect(() => backend.matmul(new Float32Array(4), new Float32Array(4), new Int32Array(4) as unknown as Float32Array, 2, 2, 2)).toThrow(
        /b must be a Float32Array/,
      );
    });

    it('lengths that do not match the dims → RangeError with the expected shape', () => {
      expect(() => backend.matmulT(new Float32Array(6), new Float32Array(5), f32w(3, 3), 2)).toThrow(
        expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/a has 5 elements, expected 6 \(shape \[M=2, K=3\]\)/) }),
      );
      expect(() => backend.matmulT(new Float32Array(7), new Float32Array(6), f32w(3, 3), 2)).toThrow(/out has 7 elements, expected 6 \(shape \[M=2, N=3\]\)/);
      const short: Weights = { dtype: 'bf16', rows: 3, cols: 3, data: new Uint16Array(8) };
      expect(() => backend.matmulT(new Float32Array(6), new Float32Array(6), short, 2)).toThrow(/w\.data \(bf16\) has 8 elements, expected 9/);
      const q: Weights = { dtype: 'q8_0', rows: 2, cols: 64, data: new Uint8Array(2 * 2 * 34 - 1) };
      expect(() => backend.matmulT(new Float32Array(2), new Float32Array(64), q, 1)).toThrow(/w\.data \(q8_0\) has 135 elements, expected 136/);
      expect(() => backend.matmul(new Float32Array(4), new Float32Array(4), new Float32Array(5), 2, 2, 2)).toThrow(RangeError);
    });

    it('q8_0 with cols not a multiple of 32, or an unknown dtype → RangeError', () => {
      const q: Weights = { dtype: 'q8_0', rows: 1, cols: 40, data: new Uint8Array(34) };
      expect(() => backend.matmulT(new Float32Array(1), new Float32Array(40), q, 1)).toThrow(/w\.cols must be a multiple of 32/);
      const bad = { dtype: 'iq2_xxs', rows: 1, cols: 32, data: new Uint8Array(18) } as unknown as Weights;
      expect(() => backend.matmulT(new Float32Array(1), new Float32Array(32), bad, 1)).toThrow(/w\.dtype must be one of/);
    });

    it('negative, zero, fractional, NaN, non-number and huge dims → RangeError/TypeError', () => {
      const o = new Float32Array(6), a = new Float32Array(6);
      for (const M of [-1, 0, 1.5, NaN, Infinity, 2 ** 53]) expect(() => backend.matmulT(o, a, f32w(3, 3), M)).toThrow(RangeError);
      expect(() => backend.matmulT(o, a, f32w(3, 3), '2' as unknown as number)).toThrow(TypeError);
      expect(() => backend.matmulT(o, a, { ...f32w(3, 3), rows: -3 }, 2)).toThrow(/w\.rows must be in/);
      expect(() => backend.matmulT(o, a, { ...f32w(3, 3), rows: 2 ** 40, cols: 2 ** 40 }, 2)).toThrow(RangeError);
      expect(() => backend.matmul(o, a, new Float32Array(9), 2 ** 40, 2 ** 40, 2 ** 40)).toThrow(RangeError);
    });

    it('detached buffers → TypeError; out overlapping an input → RangeError', () => {
      const buf = new ArrayBuffer(24);
      const a = new Float32Array(buf);
      structuredClone(buf, { transfer: [buf] });
      expect(() => backend.matmulT(new Float32Array(6), a, f32w(3, 3), 2)).toThrow(TypeError);
      const shared = new Float32Array(12);
      expect(() => backend.matmulT(shared.subarray(0, 6), shared.subarray(4, 10), f32w(3, 3), 2)).toThrow(/out must not overlap a/);
    });
  });
}
