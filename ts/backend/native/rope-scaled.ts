/** Scaled RoPE's cos/sin table on the native addon (native/binding/rope_scaled.cpp checks every argument). */
import type { NativeAddon } from '../../native/addon.js';
import type { ScaledRopeOps } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    ropeScaledTable(
      table: Float32Array,
      pos0: number,
      npos: number,
      dims: number,
      base: number,
      freqScale: number,
      freqFactors: Float32Array | null,
      ramp: Float32Array | null,
      mscale: number,
    ): void;
  }
}

export function nativeScaledRope(addon: NativeAddon): ScaledRopeOps {
  return {
    ropeScaledTable(table, pos0, npos, p) {
      addon.ropeScaledTable(table, pos0, npos, p.dims, p.theta, p.freqScale, p.freqFactors, p.ramp, p.mscale);
    },
  };
}
