/**
 * Matmul in plain TypeScript: the baseline the native kernels are tested and benchmarked against,
 * and the fallback backend. Every weight type of the table (../weight-types.ts) is computed as ggml
 * defines it: the weight row dequantized exactly (../quants/dequantize.ts), the activation row taken
 * through the type's activation quantization (Q8_0 / Q8_1 / Q8_K, ../quants/activations.ts) once
 * per matmul input, then each dot product summed in a JS number (f64) and rounded to f32 once when
 * stored.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import { activationRow, q8_1Correction } from '../quants/activations.js';
import { readF16 } from '../quants/f16-table.js';
import { dequantizeRow } from '../quants/index.js';
import type { MatmulOps, Weights } from '../types.js';
import { dataLength, storageArray, weightType } from '../weight-types.js';
import { expectDisjoint } from './conversions.js';

const shape2 = (r: string, rv: number, c: string, cv: number): string => `[${r}=${rv}, ${c}=${cv}]`;

/** Validates matmulT's arguments (the same rules and messages as native/binding/matmul.cpp). */
export function checkMatmulT(out: unknown, a: unknown, w: unknown, M: unknown): { M: number; N: number; K: number } {
  checkWeightsObject(w);
  const type = weightType(w.dtype, 'w.dtype');
  const N = expectDim('w.rows', w.rows);
  const K = expectDim('w.cols', w.cols);
  const m = expectDim('M', M);
  if (K % type.blockSize !== 0) {
    throw new RangeError(`tensorloom: w.cols must be a multiple of ${type.blockSize} for ${type.name} weights, got ${K}`);
  }
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, m * N, shape2('M', m, 'N', N));
  expectArray('a', a, Float32Array);
  expectLength('a', a as Float32Array, m * K, shape2('M', m, 'K', K));
  const wshape = shape2('N', N, 'K', K);
  const what = `w.data (${type.name})`;
  expectArray(what, w.data, storageArray(type));
  expectLength(what, w.data, dataLength(type, N, K), type.storage === 'blocks'
    ? `${wshape} as ${(N * K) / type.blockSize} blocks of ${type.blockBytes} bytes` : wshape);
  expectDisjoint(out as Float32Array, a as Float32Array, 'a');
  expectDisjoint(out as Float32Array, w.data, 'w.data');
  return { M: m, N, K };
}

/** w must be an object shaped like Weights (its fields are checked by the caller). */
export function checkWeightsObject(w: unknown): asserts w is Weights {
  if (typeof w !== 'object' || w === null) {
    throw new TypeError(`tensorloom: w must be a Weights object { dtype, rows, cols, data }, got ${w === null ? 'null' : typeof w}`);
  }
}

/** Validates matmul's arguments (same rules and messages as native/binding/matmul.cpp). */
export function checkMatmul(out: unknown, a: unknown, b: unknown, M: unknown, K: unknown, N: unknown): void {
  const m = expectDim('M', M), k = expectDim('K', K), n = expectDim('N', N);
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, m * n, shape2('M', m, 'N', n));
  expectArray('a', a, Float32Array);
  expectLength('a', a as Float32Array, m * k, shape2('M', m, 'K', k));
  expectArray('b', b, Float32Array);
  expectLength('b', b as Float32Array, k * n, shape2('K', k, 'N', n));
  expectDisjoint(out as Float32Array, a as Float32Array, 'a');
  expectDisjoint(out as Float32Array, b as Float32Array, 'b');
}

/** Row n of w as f32 into dst (exact for every dtype). */
export function expandRow(dst: Float32Array, w: Weights, n: number): void {
  dequantizeRow(w, n, dst, 0);
}

export const jsMatmul: MatmulOps = {
  matmulT(out, a, w, M) {
    const { N, K } = checkMatmulT(out, a, w, M);
    const activation = weightType(w.dtype).activation;
    // each input row once through the activation type (as ggml quantizes it once per matmul)
    const acts = activation === 'f32' ? a : new Float32Array(M * K);
    if (acts !== a) for (let m = 0; m < M; m++) activationRow(acts.subarray(m * K, m * K + K), a, m, K, activation);
    // Q4_1/Q5_1 × Q8_1: ggml adds m·s per block with Q8_1's stored s (see q8_1Correction)
    const blocks = K / 32;
    const corr = activation === 'q8_1' ? new Float64Array(M * blocks) : null;
    if (corr) for (let m = 0; m < M; m++) q8_1Correction(corr.subarray(m * blocks, (m + 1) * blocks), a, m, K);
    const type = weightType(w.dtype);
    const row = new Float32Array(K);
    for (let n = 0; n < N; n++) {
      expandRow(row, w, n);
      for (let m = 0; m < M; m++) {
        const base = m * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += acts[base + k]! * row[k]!;
        if (corr) {
          // the block min m sits after the f16 scale d in both Q4_1 and Q5_1
          const p = n * (K / 32) * type.blockBytes;
          for (let b = 0; b < blocks; b++) s += readF16(w.data as Uint8Array, p + b * type.blockBytes + 2) * corr[m * blocks + b]!;
        }
        out[m * N + n] = s;
      }
    }
  },

  matmulTMany(outs, a, ws, M) {
    if (!Array.isArray(outs) || !Array.isArray(ws) || outs.length !== ws.length || outs.length === 0) {
      throw new TypeError('tensorloom: matmulTMany needs outs and ws as non-empty arrays of the same length');
    }
    for (let i = 0; i < ws.length; i++) this.matmulT(outs[i]!, a, ws[i]!, M);
  },

  matmul(out, a, b, M, K, N) {
    checkMatmul(out, a, b, M, K, N);
    const acc = new Float64Array(N);
    for (let m = 0; m < M; m++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const am = a[m * K + k]!;
        const base = k * N;
        for (let n = 0; n < N; n++) acc[n]! += am * b[base + n]!;
      }
      for (let n = 0; n < N; n++) out[m * N + n] = acc[n]!;
    }
  },
};
