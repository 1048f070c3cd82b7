/**
 * The CUDA exports of the native addon (native/binding/cuda.cpp), merged into NativeAddon.
 * Internal: users go through `getCudaBackend()`. Every function but `cudaInfo` throws
 * "this build has no CUDA support" in an addon built without the CUDA switch.
 */
import type { DType } from '../types.js';
import { WEIGHT_TYPES } from '../weight-types.js';

/** An opaque device allocation (an N-API External); wrap it in DeviceBuffer. */
export type CudaHandle = { readonly __cudaHandle: unique symbol };

export interface CudaDeviceDescription {
  name: string;
  /** e.g. "9.0" */
  computeCapability: string;
  /** Bytes of device memory. */
  totalMemory: number;
  multiprocessors: number;
}

export interface CudaAddonInfo {
  /** Whether this addon was compiled with the CUDA switch. */
  built: boolean;
  deviceCount: number;
  /** Why no device can be used (absent when one can). */
  error?: string;
  devices: CudaDeviceDescription[];
  /** What serves the large GEMMs: "cuBLAS (<lib>)" or "own kernels (<why>)" (cudaInfo(true), with a device). */
  gemm?: string;
}

/** The weight types the CUDA build computes with; they cross as GGML type ids (native/cuda/api.h's WType). */
export const CUDA_DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'q8_0'];

/** The GGML id of a weight type, or a RangeError naming the argument when CUDA has no kernel for it. */
export function cudaWTypeCode(dtype: DType, what: string): number {
  if (!CUDA_DTYPES.includes(dtype)) {
    throw new RangeError(`tensorloom: ${what} is ${String(dtype)}; the CUDA backend computes with ${CUDA_DTYPES.join(' | ')} only`);
  }
  return WEIGHT_TYPES[dtype].ggmlId;
}
/** RoPE layout codes shared with native/cuda/api.h (enum class RopeLayout). */
export const ROPE_LAYOUT_CODE = { interleaved: 0, half: 1 } as const;

type H = CudaHandle;

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    /** withGemm: also report `gemm` (loads cuBLAS if it can). */
    cudaInfo(withGemm?: boolean): CudaAddonInfo;
    cudaAlloc(bytes: number): H;
    cudaFree(buffer: H): void;
    cudaUpload(buffer: H, source: ArrayBufferView, byteOffset?: number): void;
    cudaDownload(buffer: H, target: ArrayBufferView, byteOffset?: number): void;
    cudaCopy(dst: H, dstByteOffset: number, src: H, srcByteOffset: number, bytes: number): void;
    cudaSynchronize(): void;
    cudaMatmulT(out: H, a: H, w: H, dtypeCode: number, M: number, N: number, K: number): void;
    cudaMatmul(out: H, a: H, b: H, M: number, K: number, N: number): void;
    cudaAttention(
      out: H, q: H, k: H, v: H, kvF16: boolean,
      T: number, S: number, H: number, Hkv: number, D: number, posOffset: number,
      causal: boolean, scale: number, ropeTheta: number, ropeLayout: number, ropeDims: number,
    ): void;
    cudaRope(x: H, T: number, nHeads: number, D: number, posOffset: number, theta: number, layout: number, dims: number): void;
    cudaRmsnorm(out: H, x: H, weight: H, rows: number, dim: number, eps: number): void;
    cudaLayernorm(out: H, x: H, weight: H, bias: H | null, rows: number, dim: number, eps: number): void;
    cudaSoftmax(out: H, x: H, rows: number, cols: number, temperature: number): void;
    cudaGelu(out: H, x: H, n: number, tanhApproximation: boolean): void;
    cudaSilu(out: H, x: H, n: number): void;
    cudaSwiglu(out: H, gate: H, up: H, n: number): void;
    cudaAdd(out: H, a: H, b: H, n: number): void;
    cudaMul(out: H, a: H, b: H, n: number): void;
    cudaEmbedding(out: H, table: H, dtypeCode: number, rows: number, cols: number, ids: Int32Array | Uint32Array): void;
    cudaArgmax(x: H, n: number): number;
    cudaUseCublas(enabled: boolean): boolean;
    cudaUseTensorCoreAttention(enabled: boolean): boolean;
    cudaCastF32(dst: H, dstByteOffset: number, dtypeCode: number, src: H, srcByteOffset: number, n: number): void;
  }
}

/** The names above, for checks that both builds export the same functions. */
export const CUDA_EXPORTS = [
  'cudaInfo', 'cudaAlloc', 'cudaFree', 'cudaUpload', 'cudaDownload', 'cudaCopy', 'cudaSynchronize',
  'cudaMatmulT', 'cudaMatmul', 'cudaAttention', 'cudaRope', 'cudaRmsnorm', 'cudaLayernorm', 'cudaSoftmax',
  'cudaGelu', 'cudaSilu', 'cudaSwiglu', 'cudaAdd', 'cudaMul', 'cudaEmbedding', 'cudaArgmax', 'cudaUseCublas', 'cudaCastF32', 'cudaUseTensorCoreAttention',
] as const;
