/**
 * Attention and RoPE on the native addon (native/binding/attention.cpp, which checks every
 * argument). This wrapper only fills in the defaults of AttentionShape and flattens it.
 */
import type { NativeAddon } from '../../native/addon.js';
import type { AttentionOps, AttentionShape, RopeOptions } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    attention(
      out: Float32Array,
      q: Float32Array,
      k: Float32Array | Uint16Array,
      v: Float32Array | Uint16Array,
      T: number,
      S: number,
      H: number,
      Hkv: number,
      D: number,
      posOffset: number,
      causal: boolean,
      scale: number,
      ropeLayout: string | null,
      ropeTheta?: number,
      ropeDims?: number,
      seqBounds?: Int32Array,
      softcap?: number,
      positionBias?: Float32Array,
    ): void;
    rope(x: Float32Array, T: number, nHeads: number, D: number, posOffset: number, layout: string, theta: number, dims: number): void;
  }
}

function ropeObject(rope: unknown): RopeOptions {
  if (typeof rope !== 'object' || rope === null) throw new TypeError('tensorloom: rope must be a RopeOptions object');
  const r = rope as RopeOptions;
  if (typeof r.layout !== 'string') throw new TypeError("tensorloom: rope.layout must be 'interleaved' or 'half'");
  return r;
}

export function nativeAttention(addon: NativeAddon): AttentionOps {
  return {
    attention(out, q, k, v, shape: AttentionShape) {
      if (typeof shape !== 'object' || shape === null) throw new TypeError('tensorloom: shape must be an AttentionShape object');
      const { T, S, H, Hkv, D, posOffset, softcap, positionBias } = shape;
      // (a D that is not a number is named by the addon's check; Math.sqrt would throw on a bigint first)
      const scale = shape.scale ?? (typeof D === 'number' ? 1 / Math.sqrt(D) : 1);
      const causal = shape.causal ?? true;
      const seq = shape.sequences;
      if (shape.rope === undefined) {
        addon.attention(out, q, k, v, T, S, H, Hkv, D, posOffset, causal, scale, null, undefined, undefined, seq, softcap, positionBias);
      } else {
        const r = ropeObject(shape.rope);
        addon.attention(out, q, k, v, T, S, H, Hkv, D, posOffset, causal, scale, r.layout, r.theta, r.dims ?? D, seq, softcap, positionBias);
      }
    },
    rope(x, T, nHeads, D, posOffset, rope) {
      const r = ropeObject(rope);
      addon.rope(x, T, nHeads, D, posOffset, r.layout, r.theta, r.dims ?? D);
    },
  };
}
