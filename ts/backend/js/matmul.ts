/**
 * Matmul in plain TypeScript: the baseline the native kernels are tested and benchmarked against,
 * and the fallback backend. Weights are expanded to f32 row by row exactly as the native kernels
 * define it (f16/bf16 conversion, Q8_0 as f32(d)·q), then each dot product is summed in a JS
 * number (f64) and rounded to f32 once when stored.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import type { DType, MatmulOps, Weights } from '../types.js';
import { dequantizeRows, expectDisjoint, f16ToF32Bits } from './conversions.js';

const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'q8_0'];

const shape2 = (r: string, rv: number, c: string, cv: number): string => `[${r}=${rv}, ${c}=${cv}]`;

/** Validates matmulT's arguments (the same rules and messages as native/binding/matmul.cpp). */
export function checkMatmulT(out: unknown, a: unknown, w: unknown, M: unknown): { M: number; N: number; K: number } {
  checkWeightsObject(w);
  const dtype = w.dtype;
  if (typeof dtype !== 'string') throw new TypeError('tensorloom: w.dtype must be a string: f32 | f16 | bf16 | q8_0');
  if (!DTYPES.includes(dtype)) {
    throw new RangeError(`tensorloom: w.dtype must be one of f32 | f16 | bf16 | q8_0, got '${String(dtype)}'`);
  }
  const N = expectDim('w.rows', w.rows);
  const K = expectDim('w.cols', w.cols);
  const m = expectDim('M', M);
  if (dtype === 'q8_0' && K % 32 !== 0) {
    throw new RangeError(`tensorloom: w.cols must be a multiple of 32 for q8_0 weights, got ${K}`);
  }
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, m * N, shape2('M', m, 'N', N));
  expectArray('a', a, Float32Array);
  expectLength('a', a as Float32Array, m * K, shape2('M', m, 'K', K));
  const wshape = shape2('N', N, 'K', K);
  if (dtype === 'f32') {
    expectArray('w.data (f32)', w.data, Float32Array);
    expectLength('w.data (f32)', w.data, N * K, wshape);
  } else if (dtype === 'f16' || dtype === 'bf16') {
    expectArray(`w.data (${dtype})`, w.data, Uint16Array);
    expectLength(`w.data (${dtype})`, w.data, N * K, wshape);
  } else {
    expectArray('w.data (q8_0)', w.data, Uint8Array);
    expectLength('w.data (q8_0)', w.data, (N * K) / 32 * 34, `${wshape} as ${(N * K) / 32} blocks of 34 bytes`);
  }
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
  const K = w.cols;
  if (w.dtype === 'f32') {
    dst.set((w.data as Float32Array).subarray(n * K, n * K + K));
  } else if (w.dtype === 'q8_0') {
    dequantizeRows(dst, 0, w.data as Uint8Array, (n * K) / 32 * 34, K / 32);
  } else {
    const src = w.data as Uint16Array;
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, K);
    if (w.dtype === 'bf16') for (let k = 0; k < K; k++) bits[k] = (src[n * K + k]! << 16) >>> 0;
    else for (let k = 0; k < K; k++) bits[k] = f16ToF32Bits(src[n * K + k]!);
  }
}

export const jsMatmul: MatmulOps = {
  matmulT(out, a, w, M) {
    const { N, K } = checkMatmulT(out, a, w, M);
    const row = new Float32Array(K);
    for (let n = 0; n < N; n++) {
      expandRow(row, w, n);
      for (let m = 0; m < M; m++) {
        const base = m * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[base + k]! * row[k]!;
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
