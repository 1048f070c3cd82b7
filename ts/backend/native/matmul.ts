/** The native matmul ops: thin wrappers over native/binding/matmul.cpp, which checks every argument. */
import type { NativeAddon } from '../../native/addon.js';
import { checkWeightsObject } from '../js/matmul.js';
import type { MatmulOps } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    /** out[M, N] = a[M, K] · wᵀ; w given as (data, dtype, rows = N, cols = K). */
    matmulT(out: Float32Array, a: Float32Array, w: Float32Array | Uint16Array | Uint8Array, dtype: string, rows: number, cols: number, M: number): void;
    matmul(out: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number): void;
  }
}

export function nativeMatmul(addon: NativeAddon): MatmulOps {
  return {
    matmulT(out, a, w, M) {
      checkWeightsObject(w);
      addon.matmulT(out, a, w.data, w.dtype, w.rows, w.cols, M);
    },
    matmul(out, a, b, M, K, N) {
      addon.matmul(out, a, b, M, K, N);
    },
  };
}
