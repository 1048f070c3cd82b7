/**
 * Linear attention on the native addon (native/binding/linear_attention.cpp, which checks every
 * argument). This wrapper only fills in the defaults of the shape objects and flattens them.
 */
import type { NativeAddon } from '../../native/addon.js';
import type { GatedDeltaShape, LinearAttentionOps, LinearAttentionShape } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    linearAttention(
      out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, state: Float32Array,
      T: number, H: number, Hkv: number, Dk: number, Dv: number, causal: boolean, featureMap: string, eps: number, chunk: number,
    ): void;
    gatedDeltaRule(
      out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, beta: Float32Array, state: Float32Array,
      T: number, Hk: number, Hv: number, Dk: number, Dv: number, scale: number, chunk: number,
    ): void;
    conv1dCausal(out: Float32Array, x: Float32Array, convState: Float32Array, weight: Float32Array, T: number, C: number, K: number, silu: boolean): void;
    l2norm(out: Float32Array, x: Float32Array, rows: number, dim: number, eps: number): void;
    rmsnormGated(out: Float32Array, x: Float32Array, z: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
    deltaGates(g: Float32Array, beta: Float32Array, alpha: Float32Array, betaRaw: Float32Array, dtBias: Float32Array, a: Float32Array, T: number, H: number): void;
    sigmoidMul(out: Float32Array, x: Float32Array, gate: Float32Array): void;
  }
}

function shapeObject<S>(shape: S, what: string): S {
  if (typeof shape !== 'object' || shape === null) throw new TypeError(`tensorloom: shape must be a ${what} object`);
  return shape;
}

export function nativeLinearAttention(addon: NativeAddon): LinearAttentionOps {
  return {
    linearAttention(out, q, k, v, state, shape: LinearAttentionShape) {
      const { T, H, Hkv, Dk, Dv } = shapeObject(shape, 'LinearAttentionShape');
      addon.linearAttention(out, q, k, v, state, T, H, Hkv, Dk, Dv, shape.causal ?? true, shape.featureMap ?? 'elu1', shape.eps ?? 1e-6, shape.chunk ?? 32);
    },
    gatedDeltaRule(out, q, k, v, g, beta, state, shape: GatedDeltaShape) {
      const { T, Hk, Hv, Dk, Dv } = shapeObject(shape, 'GatedDeltaShape');
      addon.gatedDeltaRule(out, q, k, v, g, beta, state, T, Hk, Hv, Dk, Dv, shape.scale ?? 1 / Math.sqrt(Dk), shape.chunk ?? 64);
    },
    conv1dCausal: (out, x, convState, weight, T, C, K, silu) => addon.conv1dCausal(out, x, convState, weight, T, C, K, silu),
    l2norm: (out, x, rows, dim, eps) => addon.l2norm(out, x, rows, dim, eps),
    rmsnormGated: (out, x, z, weight, rows, dim, eps) => addon.rmsnormGated(out, x, z, weight, rows, dim, eps),
    deltaGates: (g, beta, alpha, betaRaw, dtBias, a, T, H) => addon.deltaGates(g, beta, alpha, betaRaw, dtBias, a, T, H),
    sigmoidMul: (out, x, gate) => addon.sigmoidMul(out, x, gate),
  };
}
