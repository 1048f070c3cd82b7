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
import { f32BitsToBf16, f32BitsToF16 } from '../js/conversions.js';
import { quantizeIQ4_NL, quantizeIQ4_XS } from './quantize-iq4.js';
import { quantizeQ2_K, quantizeQ3_K, quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quantize-k.js';
import { quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0 } from './quantize-legacy.js';

export { DEQUANTIZE_BLOCKS, IQ4NL_VALUES } from './dequantize.js';

/** Quantizes `blocks` blocks of x (from index xo) into y (from byte yo). */
export type QuantizeBlocks = (x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number) => void;

/** The block quantizer of every quantized type (what llama.cpp writes without an importance matrix). */
export const QUANTIZE_BLOCKS: Readonly<Record<Exclude<DType, 'f32' | 'f16' | 'bf16'>, QuantizeBlocks>> = {
  q4_0: quantizeQ4_0, q4_1: quantizeQ4_1, q5_0: quantizeQ5_0, q5_1: quantizeQ5_1, q8_0: quantizeQ8_0,
  q2_k: quantizeQ2_K, q3_k: quantizeQ3_K, q4_k: quantizeQ4_K, q5_k: quantizeQ5_K, q6_k: quantizeQ6_K,
  iq4_nl: quantizeIQ4_NL, iq4_xs: quantizeIQ4_XS,
};

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

/**
 * f32 rows of length `cols` stored as `dtype`: the data a `Weights` of that type holds (a copy for
 * f32). cols must be a multiple of the type's block (RangeError otherwise).
 */
export function quantizeRows(dtype: DType, x: Float32Array, cols: number): Weights['data'] {
  const t = weightType(dtype);
  const per = rowBytes(t, cols);
  if (cols === 0 || x.length % cols !== 0) throw new RangeError(`tensorloom: ${x.length} values are not whole rows of ${cols}`);
  const rows = x.length / cols;
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  switch (dtype) {
    case 'f32': return x.slice();
    case 'f16': return Uint16Array.from(bits, f32BitsToF16);
    case 'bf16': return Uint16Array.from(bits, f32BitsToBf16);
    default: {
      const out = new Uint8Array(rows * per);
      QUANTIZE_BLOCKS[dtype](x, 0, out, 0, x.length / t.blockSize);
      return out;
    }
  }
}
