/** The native MoE feed-forward: a thin wrapper over native/binding/moe.cpp, which checks every argument. */
import type { NativeAddon } from '../../native/addon.js';
import { checkMoE } from '../js/moe.js';
import type { MoEOps, Weights } from '../types.js';
import { ggmlTypeId } from './matmul.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    /** See Backend.moeFfn; weights as (data, GGML type id), gate/up [E·hidden, dim], down [E·dim, hidden]. */
    moeFfn(
      out: Float32Array, x: Float32Array, logits: Float32Array, T: number, dim: number, experts: number, used: number, hidden: number,
      gate: Weights['data'], gateType: number, up: Weights['data'], upType: number, down: Weights['data'], downType: number,
    ): void;
  }
}

export function nativeMoE(addon: NativeAddon): MoEOps {
  return {
    moeFfn(out, x, logits, T, w, used) {
      const [dim, hidden] = checkMoE(out, x, logits, T, w, used);
      addon.moeFfn(
        out.subarray(0, T * dim), x.subarray(0, T * dim), logits.subarray(0, T * w.experts), T, dim, w.experts, used, hidden,
        w.gate.data, ggmlTypeId(w.gate.dtype, 'gate.dtype'), w.up.data, ggmlTypeId(w.up.dtype, 'up.dtype'), w.down.data, ggmlTypeId(w.down.dtype, 'down.dtype'),
      );
    },
  };
}
