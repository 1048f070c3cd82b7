/**
 * SharedProjections (several projections of one input through one matmulTMany call, as the hybrid
 * layers run their input projections) gives exactly what each Linear's own forward gives: mixed
 * weight types (K-quants, q8_0, f16, f32), with and without bias, one token, a few, and enough rows
 * for the quantized GEMM tiles (M ≥ 33), on each backend.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend, Weights } from '../../ts/backend/types.js';
import { f32ArrayToF16, quantizeQ8_0 } from '../../ts/formats/dtype-convert.js';
import { Linear, SharedProjections } from '../../ts/layers/linear.js';
import { rng } from '../kernels/helpers.js';
import { QUANT_SPECS, randomBlocks } from '../kernels/quant-reference.js';

const K = 512;
const rand = rng(17);
const randn = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale);
const kquant = (name: 'q4_k' | 'q6_k', rows: number): Weights => {
  const s = QUANT_SPECS.find((q) => q.name === name)!;
  return { dtype: name, rows, cols: K, data: randomBlocks(s, (rows * K) / s.block, rand, 0.05) };
};

function nativeBackend(): Backend | null {
  try {
    return getBackend('native');
  } catch {
    return null;
  }
}

for (const [name, backend] of [['js', getBackend('js')], ['native', nativeBackend()]] as const) {
  describe.skipIf(!backend)(`SharedProjections on the ${name} backend`, () => {
    it('equals each projection forward bit for bit (q6_k, q4_k, q8_0, f16 with bias, f32)', () => {
      const b = backend!;
      const linears = [
        new Linear(b, kquant('q6_k', 40)),
        new Linear(b, kquant('q4_k', 24)),
        new Linear(b, { dtype: 'q8_0', rows: 16, cols: K, data: quantizeQ8_0(randn(16 * K, 0.2)) }),
        new Linear(b, { dtype: 'f16', rows: 8, cols: K, data: f32ArrayToF16(randn(8 * K, 0.2)) }, randn(8)),
        new Linear(b, { dtype: 'f32', rows: 4, cols: K, data: randn(4 * K, 0.2) }),
      ];
      const shared = new SharedProjections(linears);
      // the same object over several M, each call with new outputs: the kept outputs list follows them
      for (const M of name === 'js' ? [1, 3, 1] : [1, 5, 40, 1]) {
        const x = randn(M * K);
        const outs = linears.map((l) => new Float32Array(M * l.outFeatures).fill(NaN));
        shared.forward(outs, x, M);
        linears.forEach((l, i) => {
          const one = new Float32Array(M * l.outFeatures);
          l.forward(one, x, M);
          expect(outs[i], `projection ${i} (${l.weight.dtype}), M = ${M}`).toEqual(one);
        });
      }
    });

    it('refuses mismatched outputs or input widths', () => {
      const b = backend!;
      const a = new Linear(b, { dtype: 'f32', rows: 2, cols: K, data: randn(2 * K) });
      const c = new Linear(b, { dtype: 'f32', rows: 2, cols: 8, data: randn(16) });
      expect(() => new SharedProjections([a, a]).forward([new Float32Array(2)], randn(K), 1)).toThrow(/need 2 outputs, got 1/);
      expect(() => new SharedProjections([a, c])).toThrow(/same input width/);
      expect(() => new SharedProjections([])).toThrow(/at least one projection/);
    });
  });
}
