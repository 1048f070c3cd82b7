/** The sampling helpers on the native addon (native/binding/sample.cpp checks every argument). */
import type { NativeAddon } from '../../native/addon.js';
import type { SamplingOps } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    sampleWeights(prob: Float32Array, logits: Float32Array, invTemperature: number): number;
    sampleDraw(prob: Float32Array, n: number, r: number): number;
  }
}

export function nativeSampling(addon: NativeAddon): SamplingOps {
  return {
    sampleWeights: (prob, logits, invTemperature) => addon.sampleWeights(prob, logits, invTemperature),
    sampleDraw: (prob, n, r) => addon.sampleDraw(prob, n, r),
  };
}
