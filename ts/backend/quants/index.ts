/**
 * Reference codecs of the weight-type table (../weight-types.ts), in plain TypeScript: dequantize a
 * row of any type to f32 (bit-exact with ggml), and quantize f32 rows into any type (byte-exact with
 * llama.cpp's quantizer when no importance matrix is used). The JS backend and the converter use
 * them; the native kernels are tested against them.
 */
import type { Weights } from '../types.js';
import { rowBytes, weightType, type DType } from '../weight-types.js';
import { DEQUANTIZE_BLOCKS } from './dequantize.js';
import { f16Table } from './f16-table.js';

export { DEQUANTIZE_BLOCKS, IQ4NL_VALUES } from './dequantize.js';

/** Row `row` of w as f32 into dst (from dstOffset): exact for every type. */
export function dequantizeRow(w: Weights, row: number, dst: Float32Array, dstOffset = 0): void {
  const K = w.cols;
  switch (w.dtype) {
    case 'f32':
      dst.set((w.data as Float32Array).subarray(row * K, row * K + K), dstOffset);
      return;
    case 'f16': {
      const src = w.data as Uint16Array, h = f16Table();
      for (let k = 0, s = row * K; k < K; k++) dst[dstOffset + k] = h[src[s + k]!]!;
      return;
    }
    case 'bf16': {
      const src = w.data as Uint16Array;
      const bits = new Uint32Array(dst.buffer, dst.byteOffset + dstOffset * 4, K);
      for (let k = 0, s = row * K; k < K; k++) bits[k] = (src[s + k]! << 16) >>> 0;
      return;
    }
    default: {
      const t = weightType(w.dtype, 'w.dtype');
      DEQUANTIZE_BLOCKS[w.dtype](w.data as Uint8Array, row * rowBytes(t, K), dst, dstOffset, K / t.blockSize);
    }
  }
}

/** The whole matrix as f32 (a view for f32, else a new array). */
export function dequantizeWeights(w: Weights): Float32Array {
  if (w.dtype === 'f32') return w.data as Float32Array;
  const out = new Float32Array(w.rows * w.cols);
  for (let r = 0; r < w.rows; r++) dequantizeRow(w, r, out, r * w.cols);
  return out;
}

/** Raw stored bytes of `elements` values of a type (as a GGUF tensor holds them) → f32. */
export function dequantizeBytes(dtype: DType, bytes: Uint8Array, elements: number): Float32Array {
  const t = weightType(dtype);
  const need = rowBytes(t, elements);
  if (bytes.byteLength !== need) throw new RangeError(`tensorloom: ${elements} ${dtype} values take ${need} bytes, got ${bytes.byteLength}`);
  let data: Weights['data'];
  if (t.storage === 'blocks') data = bytes;
  else {
    const aligned = bytes.byteOffset % (t.storage === 'f32' ? 4 : 2) === 0 ? bytes : bytes.slice();
    data = t.storage === 'f32'
      ? new Float32Array(aligned.buffer, aligned.byteOffset, elements)
      : new Uint16Array(aligned.buffer, aligned.byteOffset, elements);
  }
  return dequantizeWeights({ dtype, rows: 1, cols: elements, data });
}
