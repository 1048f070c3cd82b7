/**
 * The native weight-type table's exports (native/binding/weights.cpp): its rows, the scalar
 * dequantizer and the activation quantizers matmulT uses. For tests and tools; the Backend
 * interface does not need them.
 */
import type { Weights } from '../types.js';

/** One row of native/kernels/weight_types.cpp's table. */
export interface NativeWeightType {
  /** GGML type id. */
  id: number;
  /** ggml's name ('q4_K'). */
  name: string;
  blockSize: number;
  blockBytes: number;
  /** GGML id of the activation type its dot product takes (ggml's vec_dot_type). */
  activationType: number;
}

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    weightTypes(): NativeWeightType[];
    /** out[rows, cols] = the f32 values of `rows` rows of type `type` (GGML id). */
    dequantizeRows(out: Float32Array, data: Weights['data'], type: number, rows: number, cols: number): void;
    /** x quantized as matmulT quantizes its input rows: type 8 (Q8_0), 9 (Q8_1) or 15 (Q8_K). */
    quantizeActivations(out: Uint8Array, x: Float32Array, type: number): void;
  }
}
