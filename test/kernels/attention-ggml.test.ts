/**
 * Small f32-cache attention calls on AVX-512 and RMSNorm on every variant equal llama.cpp's
 * arithmetic bit for bit (native/kernels/attention_ggml.h, ops_kernels.h's rms_scale_ggml).
 *
 * llama.cpp's plain attention (f32 KV, flash attention off; the oracle of the greedy-decoding
 * tests) is KQ = mul_mat(K, Q) with ggml_vec_dot_f32, soft_max_ext (scale, max, ggml's exp, a
 * double sum of 16-key block sums), KQV = mul_mat(Vᵀ, P): one token through vec_dot (64 lanes),
 * a batch through llamafile's tinyBLAS (16 lanes). The order of every f32 operation was read off
 * llama.cpp's source and the disassembly of the AVX-512 libggml-cpu node-llama-cpp loads here
 * (zen4 build: the vec_dot tail is products then sequential adds in blocks of 16 and 8, scalar fma
 * for the last < 8). The reference below is that order in JS: Math.fround after every f32 step,
 * an fma from exact BigInt arithmetic, and ggml's AVX-512 exp (both from ggml-arith.ts). The
 * greedy-decoding test (test/models/quant-decode.test.ts) checks the same against llama.cpp itself.
 */
import { describe, expect, it } from 'vitest';
import type { AttentionShape } from '../../ts/index.js';
import { exactFmaf as fmaf, exp512 } from './ggml-arith.js';
import { js, native, randomArray, variants, withVariant } from './variants.js';

const f = Math.fround;

// ── llama.cpp's attention of one query row ────────────────────────────────────────────────────
/** 16 lanes summed as GCC's _mm512_reduce_add_ps (and ggml's hsum): l+8, l+4, l+2, then 0+1. */
function reduce16(v: number[]): number {
  let a = v.slice();
  for (let h = 8; h >= 1; h /= 2) a = Array.from({ length: h }, (_, l) => f(a[l]! + a[l + h]!));
  return a[0]!;
}
/** ggml_vec_dot_f32 on the AVX-512 build. */
function vecDot(x: ArrayLike<number>, xo: number, y: ArrayLike<number>, yo: number, n: number): number {
  const np = n & ~63;
  let sum = 0;
  if (np > 0) {
    const acc = Array.from({ length: 4 }, () => new Array<number>(16).fill(0));
    for (let i = 0; i < np; i += 64)
      for (let j = 0; j < 4; j++) for (let l = 0; l < 16; l++) acc[j]![l] = fmaf(x[xo + i + 16 * j + l]!, y[yo + i + 16 * j + l]!, acc[j]![l]!);
    sum = reduce16(Array.from({ length: 16 }, (_, l) => f(f(acc[0]![l]! + acc[2]![l]!) + f(acc[1]![l]! + acc[3]![l]!))));
  }
  let i = np;
  for (; n - i >= 16; i += 16) for (let l = 0; l < 16; l++) sum = f(sum + f(x[xo + i + l]! * y[yo + i + l]!));
  if (n - i >= 8) {
    for (let l = 0; l < 8; l++) sum = f(sum + f(x[xo + i + l]! * y[yo + i + l]!));
    i += 8;
  }
  for (; i < n; i++) sum = fmaf(x[xo + i]!, y[yo + i]!, sum);
  return sum;
}
function ggmlRow(q: Float32Array, qo: number, k: Float32Array, v: Float32Array, kvBase: number, stride: number, D: number, nkeys: number, scale: number, batch: boolean): number[] {
  const w: number[] = [];
  for (let c = 0; c < nkeys; c++) w.push(f(vecDot(k, kvBase + c * stride, q, qo, D) * scale));
  const mx = Math.max(...w);
  const e = w.map((x) => exp512(f(x - mx)));
  let sum = 0;
  for (let c = 0; c < nkeys; c += 16) sum += reduce16(Array.from({ length: 16 }, (_, l) => (c + l < nkeys ? e[c + l]! : 0)));
  const inv = f(1 / sum);
  const p = e.map((x) => f(x * inv));
  const lanes = batch ? 16 : 64;
  const acc = Array.from({ length: lanes }, () => new Array<number>(D).fill(0));
  for (let c = 0; c < nkeys; c++) for (let d = 0; d < D; d++) acc[c % lanes]![d] = fmaf(v[kvBase + c * stride + d]!, p[c]!, acc[c % lanes]![d]!);
  return Array.from({ length: D }, (_, d) =>
    reduce16(Array.from({ length: 16 }, (_, l) => (batch ? acc[l]![d]! : f(f(acc[l]![d]! + acc[32 + l]![d]!) + f(acc[16 + l]![d]! + acc[48 + l]![d]!))))),
  );
}

const CASES: { name: string; shape: AttentionShape }[] = [
  { name: 'decode, D = 8 (stories260K), 70 keys', shape: { T: 1, S: 70, H: 4, Hkv: 2, D: 8, posOffset: 69 } },
  { name: 'decode, D = 12 (8-block + scalar fma tail)', shape: { T: 1, S: 20, H: 2, Hkv: 1, D: 12, posOffset: 19 } },
  { name: 'decode, D = 80 (64-block + 16-block tail), 66 keys', shape: { T: 1, S: 66, H: 2, Hkv: 1, D: 80, posOffset: 65 } },
  { name: 'batch of 5 (prompt), D = 64, causal from position 30', shape: { T: 5, S: 35, H: 2, Hkv: 2, D: 64, posOffset: 30 } },
  { name: 'decode, D = 64, 300 keys (last 16-key block partial)', shape: { T: 1, S: 300, H: 4, Hkv: 2, D: 64, posOffset: 299 } },
  { name: 'decode, D = 128 (two 64-output passes), 130 keys', shape: { T: 1, S: 130, H: 2, Hkv: 1, D: 128, posOffset: 129 } },
  { name: 'decode, 4 query heads per KV head, D = 64, 40 keys', shape: { T: 1, S: 40, H: 8, Hkv: 2, D: 64, posOffset: 39 } },
  { name: 'decode, D = 96 (64 + 32 outputs), 77 keys', shape: { T: 1, S: 77, H: 2, Hkv: 2, D: 96, posOffset: 76 } },
  { name: 'batch of 3 (prompt), D = 128, causal from position 40', shape: { T: 3, S: 43, H: 2, Hkv: 1, D: 128, posOffset: 40 } },
];

for (const variant of variants().filter((v) => v.isa === 'avx512')) {
  describe.skipIf(variant.skip !== undefined)(`attention (native ${variant.title}) equals llama.cpp's order bit for bit`, () => {
    for (const c of CASES) {
      it(c.name, () => {
        const { T, S, H, Hkv, D, posOffset } = c.shape;
        const scale = f(1 / Math.sqrt(D));
        const shape = { ...c.shape, scale };
        const q = randomArray(T * H * D, 21, -2, 2);
        const k = randomArray(S * Hkv * D, 22, -2, 2);
        const v = randomArray(S * Hkv * D, 23);
        const got = new Float32Array(T * H * D);
        withVariant(variant, () => native.attention(got, q, k, v, shape));
        const G = H / Hkv;
        for (let t = 0; t < T; t++)
          for (let h = 0; h < H; h++) {
            const want = ggmlRow(q, (t * H + h) * D, k, v, Math.floor(h / G) * D, Hkv * D, D, posOffset + t + 1, scale, T >= 2);
            const row = Array.from(got.subarray((t * H + h) * D, (t * H + h + 1) * D));
            expect(row, `query ${t}, head ${h}`).toEqual(want);
          }
      });
    }
  });
}

// Rows in groups (the SIMD variants sum 4 or 8 rows side by side, one per double lane) and alone, a
// dim with a tail, and magnitudes spread over 2^-24..2^12.
describe.each([[3, 256], [19, 250]])('RMSNorm equals llama.cpp\'s (f32 squares summed in a double, f32 mean, 1/sqrtf): %i rows of %i', (rows, dim) => {
  const eps = f(2.5e-6);
  const spread = randomArray(rows * dim, 33, -24, 12);
  const x = randomArray(rows * dim, 31, -3, 3).map((v, i) => f(v * 2 ** Math.round(spread[i]!)));
  const w = randomArray(dim, 32, 0.5, 1.5);
  const want = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += f(x[r * dim + i]! * x[r * dim + i]!);
    const scale = f(1 / f(Math.sqrt(f(f(s / dim) + eps))));
    for (let i = 0; i < dim; i++) want[r * dim + i] = f(f(x[r * dim + i]! * scale) * w[i]!);
  }
  for (const variant of variants()) {
    it.skipIf(variant.skip !== undefined)(`native ${variant.title}`, () => {
      const got = new Float32Array(rows * dim);
      withVariant(variant, () => native.rmsnorm(got, x, w, rows, dim, eps));
      expect(got).toEqual(want);
    });
  }
  it('JS baseline', () => {
    const got = new Float32Array(rows * dim);
    js.rmsnorm(got, x, w, rows, dim, eps);
    expect(got).toEqual(want);
  });
});
