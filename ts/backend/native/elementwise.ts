/**
 * Row and elementwise ops on the native addon (native/binding/ops.cpp, which checks every
 * argument and names it in the error). Thin: defaults only.
 */
import type { NativeAddon } from '../../native/addon.js';
import type { ElementwiseOps, GeluApproximation, Weights } from '../types.js';
import { ggmlTypeId } from './matmul.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
    layernorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null, rows: number, dim: number, eps: number): void;
    softmax(out: Float32Array, x: Float32Array, rows: number, cols: number, temperature: number): void;
    gelu(out: Float32Array, x: Float32Array, approximation: GeluApproximation): void;
    silu(out: Float32Array, x: Float32Array): void;
    relu(out: Float32Array, x: Float32Array): void;
    swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void;
    add(out: Float32Array, a: Float32Array, b: Float32Array): void;
    mul(out: Float32Array, a: Float32Array, b: Float32Array): void;
    embedding(out: Float32Array, table: Weights['data'], type: number, rows: number, cols: number, ids: Int32Array | Uint32Array): void;
    argmax(x: Float32Array): number;
  }
}

export function nativeElementwise(addon: NativeAddon): ElementwiseOps {
  return {
    rmsnorm: (out, x, weight, rows, dim, eps) => addon.rmsnorm(out, x, weight, rows, dim, eps),
    layernorm: (out, x, weight, bias, rows, dim, eps) => addon.layernorm(out, x, weight, bias, rows, dim, eps),
    softmax: (out, x, rows, cols, temperature = 1) => addon.softmax(out, x, rows, cols, temperature),
    gelu: (out, x, approximation = 'tanh') => addon.gelu(out, x, approximation),
    silu: (out, x) => addon.silu(out, x),
    relu: (out, x) => addon.relu(out, x),
    swiglu: (out, gate, up) => addon.swiglu(out, gate, up),
    add: (out, a, b) => addon.add(out, a, b),
    mul: (out, a, b) => addon.mul(out, a, b),
    embedding(out, table, ids) {
      if (typeof table !== 'object' || table === null) throw new TypeError('tensorloom: table must be a Weights object');
      addon.embedding(out, table.data, ggmlTypeId(table.dtype, 'table.dtype'), table.rows, table.cols, ids);
    },
    argmax: (x) => addon.argmax(x),
  };
}
