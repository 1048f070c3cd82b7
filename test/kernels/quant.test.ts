/**
 * Quantized weight types on the native backend (native/kernels/weight_types.h, matmul_quant.cpp,
 * qdot.inc): every type of the table, every ISA path (scalar, AVX2, AVX-512BW, AVX-512 VNNI) and
 * matmul regime (GEMV M = 1, small M, GEMM), 1 and 2 threads.
 *
 * References (test/kernels/quant-reference.ts, independent JS):
 * - dequantizeRows / embedding: bit-exact with the JS block decoders;
 * - the activation quantizers (Q8_0 / Q8_1 / Q8_K): bit-exact with ggml's x86 formulas in JS;
 * - matmulT on the scalar path: the f64 dot of the dequantized weights with the dequantized
 *   quantized activations. Tolerance 1e-5 · 4 · Σ|a_q| · max|w_n| (the kernels sum block products in
 *   f32; a wrong bit in one weight moves a result by ≈ |w|·|a| ≈ 100× more);
 * - every SIMD path against the scalar path: the integer sums are identical, only the f32 sum over
 *   blocks is ordered differently, same tolerance;
 * - matmulTMany: bit-identical to separate matmulT calls;
 * - the JS backend (dequantize + ggml's activation quantization + f64 dot): same tolerance.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileBytes } from '../../ts/formats/mapped-file.js';
import { getBackend } from '../../ts/index.js';
import type { Weights } from '../../ts/index.js';
import { loadAddon } from '../../ts/native/addon.js';
import '../../ts/backend/native/weight-types.js';
import '../../ts/backend/native/matmul.js';
import '../../ts/backend/native/elementwise.js';
import { WEIGHT_TYPES } from '../../ts/backend/weight-types.js';
import { rng } from './helpers.js';
import { QUANT_SPECS, type QuantSpec, blockMins, dequantize, quantizeActs, randomBlocks, referenceMatmul } from './quant-reference.js';
import { native, variants, withVariant } from './variants.js';

const addon = loadAddon().addon!;
const ACT_ID = { q8_0: 8, q8_1: 9, q8_k: 15 } as const;

function randomActs(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * (i % 7 === 0 ? 3 : 1);
  return a;
}

function expectWithin(got: Float32Array, want: Float64Array | Float32Array, bound: Float64Array, rel: number, what: string): void {
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= rel * bound[i]! + 1e-30)) expect.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]} ± ${rel * bound[i]!}`);
  }
}

describe('the weight-type table', () => {
  it('has the same rows as the TS table (GGML id, block size, bytes, activation type)', () => {
    const rows = addon.weightTypes();
    const ts = Object.values(WEIGHT_TYPES);
    expect(rows.length).toBe(ts.length);
    for (const t of ts) {
      const r = rows.find((x) => x.id === t.ggmlId);
      expect(r, t.name).toBeDefined();
      expect([r!.name.toLowerCase(), r!.blockSize, r!.blockBytes]).toEqual([t.name, t.blockSize, t.blockBytes]);
      // ggml's vec_dot_type: f16 / bf16 weights take activations rounded to f16 / bf16 (GGML ids 1, 30)
      const natAct = t.activation === 'f32' ? 0 : t.activation === 'f16' ? 1 : t.activation === 'bf16' ? 30 : ACT_ID[t.activation];
      expect(r!.activationType).toBe(natAct);
    }
  });
});

describe('dequantizeRows and embedding', () => {
  for (const spec of QUANT_SPECS) {
    it(`${spec.name}: bit-exact with the JS block decoder`, () => {
      const rand = rng(spec.id);
      const rows = 5, cols = spec.block * 3;
      const x = randomBlocks(spec, (rows * cols) / spec.block, rand, 0.05);
      const want = dequantize(spec, x, rows, cols);
      const got = new Float32Array(rows * cols).fill(NaN);
      addon.dequantizeRows(got, x, spec.id, rows, cols);
      expect(got).toEqual(want);
      const ids = new Int32Array([4, 0, 2]);
      const emb = new Float32Array(3 * cols).fill(NaN);
      addon.embedding(emb, x, spec.id, rows, cols, ids);
      for (let i = 0; i < 3; i++) expect(emb.subarray(i * cols, (i + 1) * cols)).toEqual(want.subarray(ids[i]! * cols, (ids[i]! + 1) * cols));
    });
  }
});

describe('activation quantizers', () => {
  const rand = rng(77);
  const x = randomActs(256 * 6, rand);
  x.fill(0, 256, 512); // an all-zero block of every kind
  // exact ties (x·127/amax = k + ½) where round-half-even and round-half-away differ
  x[608] = 127;
  x[768] = -127;
  for (let k = 0; k < 10; k++) x[609 + k] = x[769 + k] = k - 4.5;
  // equal magnitudes of both signs: Q8_K takes the first as its signed extreme
  x[1030] = -5;
  x[1100] = 5;
  x[1300] = 6;
  x[1290] = -6;
  for (const kind of ['q8_0', 'q8_1', 'q8_k'] as const) {
    it(`${kind}: bit-exact with ggml's x86 quantizer on every ISA (scalar, AVX2, AVX-512)`, () => {
      const want = quantizeActs(kind, x).bytes;
      for (const v of variants().filter((x) => !x.skip && x.threads === 1)) {
        withVariant(v, () => {
          const got = new Uint8Array(want.length);
          addon.quantizeActivations(got, x, ACT_ID[kind]);
          expect(got, v.isa).toEqual(want);
        });
      }
    });
  }
  // Products x·(127/amax) that round (in f32) to exactly k + ½ while the exact product does not:
  // a kernel whose multiply gets fused with the rounding step (one rounding) differs here.
  const near = new Float32Array(256 * 64);
  const bits = new Uint32Array(near.buffer);
  const r2 = rng(78);
  for (let b = 0; b < 64; b++) {
    const amax = Math.fround(0.5 + 3 * r2());
    const id = Math.fround(127 / amax);
    near[b * 256] = amax;
    for (let j = 1; j < 256; j++) {
      const k = Math.floor(r2() * 250) - 125;
      near[b * 256 + j] = Math.fround((k + 0.5) / id);
      bits[b * 256 + j]! += Math.floor(r2() * 3) - 1; // ±1 ulp
    }
  }
  for (const kind of ['q8_0', 'q8_1', 'q8_k'] as const) {
    it(`${kind}: bit-exact on near-ties (f32 product exactly k + ½) on every ISA`, () => {
      const want = quantizeActs(kind, near).bytes;
      for (const v of variants().filter((x) => !x.skip && x.threads === 1)) {
        withVariant(v, () => {
          const got = new Uint8Array(want.length);
          addon.quantizeActivations(got, near, ACT_ID[kind]);
          expect(got, v.isa).toEqual(want);
        });
      }
    });
  }
  it('q8_0: the same scales as the file quantizer (quantizeQ8_0) and quants within 1 (x·127/amax vs x/d)', () => {
    const act = new Uint8Array((x.length / 32) * 34);
    const file = new Uint8Array(act.length);
    addon.quantizeActivations(act, x, 8);
    native.quantizeQ8_0(file, x);
    let differ = 0;
    for (let b = 0; b < act.length; b += 34) {
      expect(act[b]! | (act[b + 1]! << 8)).toBe(file[b]! | (file[b + 1]! << 8));
      for (let j = 2; j < 34; j++) {
        const d = Math.abs(((act[b + j]! << 24) >> 24) - ((file[b + j]! << 24) >> 24));
        expect(d).toBeLessThanOrEqual(1);
        differ += d;
      }
    }
    expect(differ).toBeGreaterThan(0); // the ties above
    expect(differ).toBeLessThan(x.length / 50);
  });
});

// [M, N, K in blocks of 256]: GEMV, small M, GEMM (crossing the 16-row and 64-row tiles).
const SHAPES: [number, number, number][] = [[1, 37, 2], [1, 5, 1], [3, 21, 2], [32, 18, 1], [70, 33, 2]];

interface Case { spec: QuantSpec; M: number; N: number; K: number; a: Float32Array; w: Uint8Array; want: Float64Array; bound: Float64Array }
const cases = new Map<string, Case[]>();
function casesFor(spec: QuantSpec): Case[] {
  let list = cases.get(spec.name);
  if (!list) {
    const rand = rng(1000 + spec.id);
    list = SHAPES.map(([M, N, kb]) => {
      const K = kb * 256;
      const a = randomActs(M * K, rand);
      const w = randomBlocks(spec, (N * K) / spec.block, rand, spec.block === 256 ? 0.01 : 0.1);
      const acts = Array.from({ length: M }, (_, m) => quantizeActs(spec.act, a.subarray(m * K, (m + 1) * K)));
      const mins = spec.act === 'q8_1' ? blockMins(spec, w, (N * K) / 32) : undefined;
      const { want, bound } = referenceMatmul(spec, dequantize(spec, w, N, K), acts, mins, M, N, K);
      return { spec, M, N, K, a, w, want, bound };
    });
    cases.set(spec.name, list);
  }
  return list;
}

const startThreads = native.info().threads;
afterAll(() => native.setThreads(startThreads));

for (const v of variants({ vnni: true, icelake: true })) {
  describe.skipIf(!!v.skip)(`quantized matmulT on ${v.title}`, () => {
    for (const spec of QUANT_SPECS) {
      it(`${spec.name}: GEMV, small M and GEMM match the integer-dot reference`, () => {
        withVariant(v, () => {
          for (const c of casesFor(spec)) {
            const out = new Float32Array(c.M * c.N).fill(NaN);
            addon.matmulT(out, c.a, c.w, spec.id, c.N, c.K, c.M);
            expectWithin(out, c.want, c.bound, 1e-5, `${v.isa} ${spec.name} M=${c.M} N=${c.N} K=${c.K}`);
          }
        });
      });
    }
    // M = 1 with enough rows that 2 threads split the list inside projections (the GEMV's pieces:
    // matmul_quant.cpp), M = 3 through the small-M path
    it.each([
      [1, [301, 97, 263, 130]],
      [3, [9, 10, 11, 12]],
    ])('matmulTMany (q4_k, q6_k, q4_0, q4_1, f32 on one input), M = %i, equals separate matmulT calls bit for bit', (M, rows) => {
      withVariant(v, () => {
        const rand = rng(5);
        const K = 512;
        const a = randomActs(M * K, rand);
        const specs = ['q4_k', 'q6_k', 'q4_0', 'q4_1'].map((n) => QUANT_SPECS.find((s) => s.name === n)!);
        const ws = specs.map((s, i) => ({ type: s.id, rows: rows[i]!, data: randomBlocks(s, (rows[i]! * K) / s.block, rand, 0.05) as Weights['data'] }));
        ws.push({ type: 0, rows: 4, data: randomActs(4 * K, rand) });
        const outs = ws.map((w) => new Float32Array(M * w.rows).fill(NaN));
        addon.matmulTMany(a, M, K, ws.map((w, i) => ({ ...w, out: outs[i]! })));
        for (let i = 0; i < ws.length; i++) {
          const one = new Float32Array(M * ws[i]!.rows);
          addon.matmulT(one, a, ws[i]!.data, ws[i]!.type, ws[i]!.rows, K, M);
          expect(outs[i]).toEqual(one);
        }
      });
    });
  });
}

// The GEMV path takes 4 weight rows per kernel call (and the small-M path 4 activation rows), the
// tail rows one at a time; each output must be computed exactly as the one-row kernel computes it
// (ggml's per-row arithmetic, which the greedy-parity tests rely on). Checked bit for bit against
// row-by-row calls (N = 1, M = 1: the one-row kernel), and the SIMD ISAs against each other.
describe('every output is the one-row kernel\'s, bit for bit', () => {
  const gemvCase = (spec: QuantSpec) => {
    const rand = rng(4242 + spec.id);
    const M = 5, N = 11, K = 3 * 256; // N = 2 blocks of 4 rows + 3 tail rows; M = 4 rows + 1
    return { M, N, K, a: randomActs(M * K, rand), w: randomBlocks(spec, (N * K) / spec.block, rand, spec.block === 256 ? 0.01 : 0.1) };
  };
  const simd = variants({ vnni: true, icelake: true }).filter((v) => !v.skip && v.isa !== 'scalar');
  for (const spec of QUANT_SPECS) {
    it.skipIf(simd.length === 0)(`${spec.name}: GEMV and small M equal row-by-row one-row dots on every SIMD ISA, 1 and 2 threads`, () => {
      const { M, N, K, a, w } = gemvCase(spec);
      const rowBytes = (K / spec.block) * spec.bytes;
      const byIsa = new Map<string, Uint32Array>();
      for (const v of simd) {
        withVariant(v, () => {
          const gemv = new Float32Array(N).fill(NaN);
          addon.matmulT(gemv, a.subarray(0, K), w, spec.id, N, K, 1);
          const many = new Float32Array(M * N).fill(NaN);
          addon.matmulT(many, a, w, spec.id, N, K, M);
          const one = new Float32Array(1);
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              addon.matmulT(one, a.subarray(m * K, (m + 1) * K), w.subarray(n * rowBytes, (n + 1) * rowBytes), spec.id, 1, K, 1);
              const bits = new Uint32Array(one.buffer)[0]!;
              if (m === 0 && new Uint32Array(gemv.buffer)[n] !== bits) expect.fail(`${v.title} ${spec.name}: GEMV row ${n} is ${gemv[n]}, one-row ${one[0]}`);
              if (new Uint32Array(many.buffer)[m * N + n] !== bits) expect.fail(`${v.title} ${spec.name}: M=${M} [${m},${n}] is ${many[m * N + n]}, one-row ${one[0]}`);
            }
          }
          const prev = byIsa.get('any');
          if (prev) expect(new Uint32Array(many.buffer), `${v.title} vs the first SIMD ISA`).toEqual(prev);
          else byIsa.set('any', new Uint32Array(many.buffer.slice(0)));
        });
      }
    });
  }
});

// GEMV cuts each thread's rows into 4 segments and computes row i of each in one call (types with a
// 4-row kernel; the others one row per call); with enough rows for 2 threads (and a row count not a
// multiple of 4 or of the thread split) every output must still be the one-row kernel's, bit for bit.
describe('GEMV in 4 segments per thread', () => {
  const simd = variants({ vnni: true, icelake: true }).filter((v) => !v.skip && v.isa !== 'scalar');
  // GEMV of the N × K weights w on every SIMD ISA: each output bit for bit the one-row dot of its row
  const expectGemvIsOneRowDots = (spec: QuantSpec, a: Float32Array, w: Uint8Array, N: number, K: number, what: string) => {
    const rowBytes = (K / spec.block) * spec.bytes;
    for (const v of simd) {
      withVariant(v, () => {
        const gemv = new Float32Array(N).fill(NaN);
        addon.matmulT(gemv, a, w, spec.id, N, K, 1);
        const one = new Float32Array(1);
        for (let n = 0; n < N; n++) {
          addon.matmulT(one, a, w.subarray(n * rowBytes, (n + 1) * rowBytes), spec.id, 1, K, 1);
          if (new Uint32Array(gemv.buffer)[n] !== new Uint32Array(one.buffer)[0]) expect.fail(`${v.title} ${what}: GEMV row ${n} is ${gemv[n]}, one-row ${one[0]}`);
        }
      });
    }
  };
  for (const spec of QUANT_SPECS) {
    it.skipIf(simd.length === 0)(`${spec.name}: every output equals the one-row dot on every SIMD ISA, 1 and 2 threads`, () => {
      const rand = rng(777 + spec.id);
      const N = 1003, K = 768; // 2 threads' worth of rows, tails of 3 rows
      const a = randomActs(K, rand);
      const w = randomBlocks(spec, (N * K) / spec.block, rand, spec.block === 256 ? 0.01 : 0.1);
      expectGemvIsOneRowDots(spec, a, w, N, K, spec.name);
    });
  }
  // The 512-bit legacy kernels read two blocks per 64-byte load, past the pair into the next row's
  // first bytes: rows shorter than one load, even and odd block counts (the last block alone).
  for (const spec of QUANT_SPECS.filter((q) => q.block === 32)) {
    it.skipIf(simd.length === 0)(`${spec.name}: short rows and odd block counts, every output the one-row dot`, () => {
      const rand = rng(991 + spec.id);
      const N = 9;
      for (const K of [32, 64, 96, 128, 160, 224, 800]) {
        const w = randomBlocks(spec, (N * K) / spec.block, rand, 0.1);
        expectGemvIsOneRowDots(spec, randomActs(K, rand), w, N, K, `${spec.name} K=${K}`);
      }
    });
  }
  // ...and the matrix's last row never goes to a 4-row kernel that reads past it: weights that fill
  // a file mapping to its last byte (2 MiB-aligned, so nothing is mapped right after it) would fault.
  it.skipIf(simd.length === 0 || typeof addon.mmapFile !== 'function')('GEMV reads nothing past the last row of a matrix that ends a mapping', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-gemv-end-'));
    try {
      const rand = rng(5150);
      // [type, K, rows]: rows × row bytes a multiple of the page size, over 2 MiB
      const cases: [string, number, number][] = [['q4_1', 1024, 3296], ['q5_0', 2048, 1504], ['q5_1', 1024, 2736]];
      for (const [name, K, N] of cases) {
        const spec = QUANT_SPECS.find((q) => q.name === name)!;
        const rowBytes = (K / spec.block) * spec.bytes;
        expect((N * rowBytes) % 4096).toBe(0);
        const path = join(dir, `${name}.bin`);
        writeFileSync(path, randomBlocks(spec, (N * K) / spec.block, rand, 0.1));
        const file = openFileBytes(path, { mode: 'mmap' });
        try {
          const a = randomActs(K, rand);
          for (const v of simd) {
            withVariant(v, () => {
              const gemv = new Float32Array(N);
              addon.matmulT(gemv, a, file.bytes, spec.id, N, K, 1);
              const one = new Float32Array(1);
              addon.matmulT(one, a, file.bytes.subarray((N - 1) * rowBytes), spec.id, 1, K, 1);
              expect(gemv[N - 1], `${v.title} ${name}: the last row`).toBe(one[0]);
            });
          }
        } finally {
          file.close();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('native (every ISA) against the JS backend', () => {
  const jsBackend = getBackend('js');
  for (const spec of QUANT_SPECS) {
    it(`${spec.name}: matmulT agrees with the JS backend's dequantize + quantized-activation dot`, () => {
      const c = casesFor(spec)[1]!; // 1×5×256
      const big = casesFor(spec)[2]!; // 3×21×512
      for (const k of [c, big]) {
        const w = { dtype: spec.name, rows: k.N, cols: k.K, data: k.w } as unknown as Weights;
        const want = new Float32Array(k.M * k.N);
        jsBackend.matmulT(want, k.a, w, k.M);
        for (const v of variants({ vnni: true, icelake: true }).filter((x) => !x.skip && x.threads === 1)) {
          withVariant(v, () => {
            const got = new Float32Array(k.M * k.N).fill(NaN);
            native.matmulT(got, k.a, w, k.M);
            expectWithin(got, want, k.bound, 1e-5, `${v.isa} ${spec.name} vs JS M=${k.M}`);
          });
        }
      }
    });
  }
});

describe('bad calls name what was wrong', () => {
  const q4k = QUANT_SPECS.find((s) => s.name === 'q4_k')!;
  it('unknown or non-number type ids → RangeError / TypeError', () => {
    const o = new Float32Array(1), a = new Float32Array(256);
    expect(() => addon.matmulT(o, a, new Uint8Array(144), 16, 1, 256, 1)).toThrow(
      expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/w\.type is 16.*not a weight type.*q4_K \(12\)/) }),
    );
    expect(() => addon.matmulT(o, a, new Uint8Array(144), 'q4_k' as unknown as number, 1, 256, 1)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/w\.type must be a GGML type id/) }),
    );
    expect(() => addon.dequantizeRows(new Float32Array(256), new Uint8Array(144), 15, 1, 256)).toThrow(/type is 15/);
    expect(() => addon.quantizeActivations(new Uint8Array(34), new Float32Array(32), 2)).toThrow(/must be an activation type/);
  });
  it('wrong byte length, wrong array kind, cols not whole blocks → RangeError / TypeError naming the argument', () => {
    const o = new Float32Array(2), a = new Float32Array(512);
    expect(() => addon.matmulT(o, a, new Uint8Array(2 * 2 * 144 - 1), q4k.id, 2, 512, 1)).toThrow(
      expect.objectContaining({ name: 'RangeError', message: expect.stringMatching(/w\.data \(q4_K\) has 575 elements, expected 576/) }),
    );
    expect(() => addon.matmulT(o, a, new Float32Array(2 * 512) as unknown as Uint8Array, q4k.id, 2, 512, 1)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/w\.data \(q4_K\) must be a Uint8Array/) }),
    );
    expect(() => addon.matmulT(new Float32Array(1), new Float32Array(288), new Uint8Array(200), q4k.id, 1, 288, 1)).toThrow(
      /w\.cols must be a multiple of 256 for q4_K/,
    );
    expect(() => addon.embedding(new Float32Array(256), new Uint8Array(144 * 2), q4k.id, 2, 256, new Int32Array([2]))).toThrow(/ids\[0\] = 2 is out of range/);
    expect(() => addon.matmulTMany(a, 1, 512, [{ out: o, data: new Uint8Array(10), type: q4k.id, rows: 2 }])).toThrow(
      /projections\[0\]\.data \(q4_K\) has 10 elements, expected 576/,
    );
    expect(() => addon.matmulTMany(a, 1, 512, [{ out: o, data: new Uint8Array(576), type: 99, rows: 2 }])).toThrow(/projections\[0\]\.type is not a weight type/);
  });
  it('the native backend maps dtype names through the TS table', () => {
    const w = { dtype: 'q4_k', rows: 1, cols: 256, data: new Uint8Array(144) } as unknown as Weights;
    const o = new Float32Array(1);
    native.matmulT(o, new Float32Array(256), w, 1);
    expect(o[0]).toBe(0);
    expect(() => native.matmulT(o, new Float32Array(256), { ...w, dtype: 'iq2_xxs' } as unknown as Weights, 1)).toThrow(/w\.dtype must be one of/);
  });
});
