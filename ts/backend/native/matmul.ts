/** The native matmul ops: thin wrappers over native/binding/matmul.cpp, which checks every argument. */
import type { NativeAddon } from '../../native/addon.js';
import { checkWeightsObject } from '../js/matmul.js';
import type { MatmulOps, Weights } from '../types.js';
import { weightType } from '../weight-types.js';

/** One projection of matmulTMany as the binding takes it. */
export interface NativeProjection {
  out: Float32Array;
  data: Weights['data'];
  /** GGML type id (ts/backend/weight-types.ts). */
  type: number;
  rows: number;
}

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    /** out[M, N] = a[M, K] · wᵀ; w given as (data, GGML type id, rows = N, cols = K). */
    matmulT(out: Float32Array, a: Float32Array, w: Weights['data'], type: number, rows: number, cols: number, M: number): void;
    /** Every projection's out[M, rows] = a[M, K] · dataᵀ, a quantized once per activation type. */
    matmulTMany(a: Float32Array, M: number, K: number, projections: NativeProjection[]): void;
    matmul(out: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number): void;
  }
}

/** The GGML type id of w.dtype (TypeError / RangeError naming `what` for anything else). */
export function ggmlTypeId(dtype: unknown, what: string): number {
  return weightType(dtype, what).ggmlId;
}

/** A checked matmulTMany call kept for reuse: the arrays it was made from and what it passed. */
interface ProjectionList {
  outs: readonly Float32Array[];
  K: number;
  dtypes: string[];
  list: NativeProjection[];
}

/** Whether `hit` was made from these outs and weights (same buffers, shapes and types). */
function sameProjections(hit: ProjectionList | undefined, outs: readonly Float32Array[], ws: readonly Weights[]): hit is ProjectionList {
  if (!hit || hit.outs !== outs || outs.length !== hit.list.length || ws.length !== hit.list.length) return false;
  for (let i = 0; i < ws.length; i++) {
    const p = hit.list[i]!;
    const w = ws[i]!;
    if (p.out !== outs[i] || p.data !== w.data || p.rows !== w.rows || w.cols !== hit.K || w.dtype !== hit.dtypes[i]) return false;
  }
  return true;
}

export function nativeMatmul(addon: NativeAddon): MatmulOps {
  // A layer passes the same outs and ws arrays every token: the checked projection list of the
  // last call per ws array is reused (no allocation per call); any changed entry builds it again.
  const lists = new WeakMap<readonly Weights[], ProjectionList>();
  return {
    matmulT(out, a, w, M) {
      checkWeightsObject(w);
      addon.matmulT(out, a, w.data, ggmlTypeId(w.dtype, 'w.dtype'), w.rows, w.cols, M);
    },
    matmulTMany(outs, a, ws, M) {
      if (!Array.isArray(outs) || !Array.isArray(ws) || outs.length !== ws.length || outs.length === 0) {
        throw new TypeError('tensorloom: matmulTMany needs outs and ws as non-empty arrays of the same length');
      }
      const hit = lists.get(ws);
      if (sameProjections(hit, outs, ws)) {
        addon.matmulTMany(a, M, hit.K, hit.list);
        return;
      }
      const K = (ws[0] as Weights | undefined)?.cols;
      const projections = ws.map((w: Weights, i): NativeProjection => {
        checkWeightsObject(w);
        if (w.cols !== K) throw new RangeError(`tensorloom: ws[${i}].cols is ${w.cols}, expected ${K} (all projections read the same a)`);
        return { out: outs[i]!, data: w.data, type: ggmlTypeId(w.dtype, `ws[${i}].dtype`), rows: w.rows };
      });
      lists.set(ws, { outs, K: K as number, dtypes: ws.map((w) => w.dtype), list: projections });
      addon.matmulTMany(a, M, K as number, projections);
    },
    matmul(out, a, b, M, K, N) {
      addon.matmul(out, a, b, M, K, N);
    },
  };
}
