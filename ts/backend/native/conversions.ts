/** The native conversions: thin wrappers over native/binding/convert.cpp, which checks every argument. */
import type { NativeAddon } from '../../native/addon.js';
import type { ConversionOps } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    f32ToF16(out: Uint16Array, x: Float32Array): void;
    f16ToF32(out: Float32Array, x: Uint16Array): void;
    f32ToBf16(out: Uint16Array, x: Float32Array): void;
    bf16ToF32(out: Float32Array, x: Uint16Array): void;
    quantizeQ8_0(out: Uint8Array, x: Float32Array): void;
    dequantizeQ8_0(out: Float32Array, x: Uint8Array): void;
  }
}

export function nativeConversions(addon: NativeAddon): ConversionOps {
  return {
    f32ToF16: (out, x) => addon.f32ToF16(out, x),
    f16ToF32: (out, x) => addon.f16ToF32(out, x),
    f32ToBf16: (out, x) => addon.f32ToBf16(out, x),
    bf16ToF32: (out, x) => addon.bf16ToF32(out, x),
    quantizeQ8_0: (out, x) => addon.quantizeQ8_0(out, x),
    dequantizeQ8_0: (out, x) => addon.dequantizeQ8_0(out, x),
  };
}
