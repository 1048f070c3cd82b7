/**
 * The quantized GEMM tile kernels (native/kernels/qgemm.inc, used by matmul_quant.cpp from
 * each type's minimum number of activation rows on, per ISA: from 2 to 16, the table's
 * gemm_min_rows) against the dot kernels (qdot.inc), on every ISA path: each output of a GEMM
 * (prefill) or small-M matmul (batched decode) must be BIT-IDENTICAL to the GEMV (M = 1, one
 * dot-kernel call per output) of that activation row, because greedy decoding must match llama.cpp
 * token for token whether a row went through prefill, batched or single decode. Shapes cross the
 * 16-weight-row and 64-activation-row tiles, the micro-kernels' 2 × 4 register tiles and 4-row
 * packs (odd N), and every M around the per-type thresholds (2..17, 32, 70 = 64 + 6).
 *
 * Against the independent scalar reference (f64 dot of dequantized values): quant.test.ts's GEMM
 * shape (70 × 33) now runs through these kernels on every ISA; this file checks it too for K of 3
 * super-blocks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../ts/native/addon.js';
import { rng } from './helpers.js';
import { QUANT_SPECS, blockMins, dequantize, quantizeActs, randomBlocks, referenceMatmul, type QuantSpec } from './quant-reference.js';
import { native, variants, withVariant } from './variants.js';

const addon = loadAddon().addon!;
const startThreads = native.info().threads;
afterAll(() => native.setThreads(startThreads));

function randomActs(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * (i % 5 === 0 ? 4 : 1);
  return a;
}

/** First index where the two arrays differ in their bits (−0 ≠ +0), or −1. */
function firstBitDifference(x: Float32Array, y: Float32Array): number {
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * The M × Nw product of a's first M rows with w (Nw × Kw, spec's blocks); fails unless each of its
 * rows is, bit for bit, the GEMV (M = 1) of that activation row.
 */
function gemmRowsAreGemv(spec: QuantSpec, a: Float32Array, w: Uint8Array, M: number, Nw: number, Kw: number, what: string): Float32Array {
  const gemm = new Float32Array(M * Nw).fill(NaN);
  addon.matmulT(gemm, a.subarray(0, M * Kw), w, spec.id, Nw, Kw, M);
  for (let m = 0; m < M; m++) {
    const row = new Float32Array(Nw).fill(NaN);
    addon.matmulT(row, a.subarray(m * Kw, (m + 1) * Kw), w, spec.id, Nw, Kw, 1);
    const i = firstBitDifference(gemm.subarray(m * Nw, (m + 1) * Nw), row);
    if (i >= 0) expect.fail(`${what}: M = ${M}: out[${m}, ${i}] = ${gemm[m * Nw + i]}, the GEMV on row ${m} gives ${row[i]}`);
  }
  return gemm;
}

const N = 37, K = 768;
/** Small M (batched decode: tiles from each type's gemm_min_rows on, the dot kernels below it) and GEMM. */
const MS = [2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 32, 70];

for (const v of variants({ vnni: true })) {
  describe.skipIf(!!v.skip)(`quantized GEMM tiles on ${v.title}`, () => {
    for (const spec of QUANT_SPECS) {
      it(`${spec.name}: every GEMM output is bit-identical to the dot kernel's GEMV on its row, and close to the reference`, () => {
        const rand = rng(7000 + spec.id);
        const a = randomActs(MS.at(-1)! * K, rand);
        const w = randomBlocks(spec, (N * K) / spec.block, rand, spec.block === 256 ? 0.01 : 0.1);
        withVariant(v, () => {
          for (const M of MS) {
            const gemm = gemmRowsAreGemv(spec, a, w, M, N, K, `${v.isa} ${spec.name}`);
            if (v.threads === 1 && M === MS.at(-1)) {
              const acts = Array.from({ length: M }, (_, m) => quantizeActs(spec.act, a.subarray(m * K, (m + 1) * K)));
              const mins = spec.act === 'q8_1' ? blockMins(spec, w, (N * K) / 32) : undefined;
              const { want, bound } = referenceMatmul(spec, dequantize(spec, w, N, K), acts, mins, M, N, K);
              for (let i = 0; i < want.length; i++) {
                const err = Math.abs(gemm[i]! - want[i]!);
                if (!(err <= 1e-5 * bound[i]! + 1e-30)) expect.fail(`${v.isa} ${spec.name}: out[${i}] = ${gemm[i]}, reference ${want[i]}`);
              }
            }
          }
        });
      });
    }
  });
}

// Wide projections: from 32 activation rows on, matmul_quant.cpp hands a tile call up to 64 weight
// rows (fewer when that would leave under 4 items per thread), which the Q8_0 VNNI driver packs in
// groups of 8 and meets 16 rows at a time; N = 300 gives 64-, 32- and 16-row items (by thread
// count) and 4 edge rows, the Ms every activation-row remainder of its 4-row tiles.
for (const v of variants({ vnni: true })) {
  describe.skipIf(!!v.skip)(`wide quantized GEMM (64-row work items) on ${v.title}`, () => {
    for (const name of ['q8_0', 'q4_0', 'q4_k']) {
      const spec = QUANT_SPECS.find((s) => s.name === name)!;
      it(`${name}: N = 300, every output bit-identical to the dot kernel's GEMV on its row`, () => {
        const Nw = 300;
        const rand = rng(9100 + spec.id);
        const Ms = [32, 33, 34, 35, 64];
        const a = randomActs(Ms.at(-1)! * K, rand);
        const w = randomBlocks(spec, (Nw * K) / spec.block, rand, spec.block === 256 ? 0.01 : 0.1);
        withVariant(v, () => {
          for (const M of Ms) gemmRowsAreGemv(spec, a, w, M, Nw, K, `${v.isa} ${name}`);
        });
      });
    }
  });
}

// Rows of 32-value blocks that are not a multiple of 2 or 4 blocks long: the tiles that take two
// blocks at a time (Q4_0 / IQ4_NL on AVX2 / AVX-512BW) end with a lone block, and rows of one block have no pair.
for (const v of variants({ vnni: true })) {
  describe.skipIf(!!v.skip)(`quantized GEMM, odd and short block counts, on ${v.title}`, () => {
    for (const spec of QUANT_SPECS.filter((s) => s.block === 32)) {
      it(`${spec.name}: K = 32, 96, 800: every output bit-identical to the dot kernel's GEMV on its row`, () => {
        const rand = rng(9300 + spec.id);
        const Nw = 11, Ms = [8, 13];
        withVariant(v, () => {
          for (const Kb of [32, 96, 800]) {
            const a = randomActs(Ms.at(-1)! * Kb, rand);
            const w = randomBlocks(spec, (Nw * Kb) / spec.block, rand, 0.1);
            for (const M of Ms) gemmRowsAreGemv(spec, a, w, M, Nw, Kb, `${v.isa} ${spec.name}: K = ${Kb}`);
          }
        });
      });
    }
  });
}

// The Q4_0 / IQ4_NL and Q8_0 tiles keep their prepared activation rows (biases, scales) per thread
// for the rest of a product's work items (qgemm.h): two products in a row with the same shape and
// the same activation buffer but other activations must not reuse the first one's.
for (const v of variants({ vnni: true })) {
  describe.skipIf(!!v.skip)(`quantized GEMM products one after another on ${v.title}`, () => {
    for (const name of ['q8_0', 'q4_0', 'iq4_nl']) {
      const spec = QUANT_SPECS.find((s) => s.name === name)!;
      it(`${name}: the second of two same-shaped products gives its own activations' outputs`, () => {
        const Nw = 300, M = 64;
        const rand = rng(9300 + spec.id);
        const w = randomBlocks(spec, (Nw * K) / spec.block, rand, 0.1);
        withVariant(v, () => {
          for (let round = 0; round < 2; round++) {
            const a = randomActs(M * K, rand);
            const gemm = new Float32Array(M * Nw).fill(NaN);
            addon.matmulT(gemm, a, w, spec.id, Nw, K, M);
            for (const m of [0, 13, M - 1]) {
              const row = new Float32Array(Nw).fill(NaN);
              addon.matmulT(row, a.subarray(m * K, (m + 1) * K), w, spec.id, Nw, K, 1);
              const i = firstBitDifference(gemm.subarray(m * Nw, (m + 1) * Nw), row);
              if (i >= 0) expect.fail(`${v.isa} ${name}: product ${round + 1}: out[${m}, ${i}] differs from the GEMV on row ${m}`);
            }
          }
        });
      });
    }
  });
}
