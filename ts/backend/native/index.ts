import type { NativeAddon } from '../../native/addon.js';
import type { Backend, BackendInfo, IsaName } from '../types.js';
import { nativeAttention } from './attention.js';
import { nativeConversions } from './conversions.js';
import { nativeElementwise } from './elementwise.js';
import { nativeLinearAttention } from './linear-attention.js';
import { nativeMatmul } from './matmul.js';
import { nativeMemory } from './memory.js';
import { nativeMoE } from './moe.js';
import { nativeScaledRope } from './rope-scaled.js';
import { nativeSampling } from './sampling.js';

/** The native backend: thin wrappers over the addon's exports, one file per kernel family. */
export function createNativeBackend(addon: NativeAddon, addonPath: string): Backend {
  const info = (): BackendInfo => {
    const i = addon.info();
    return {
      backend: 'native',
      isa: i.isa as IsaName,
      detectedIsa: i.detectedIsa as IsaName,
      threads: i.threads,
      addonPath,
    };
  };
  return {
    name: 'native',
    info,
    setThreads: (n: number) => addon.setThreads(n),
    ...nativeMemory(addon),
    ...nativeMatmul(addon),
    ...nativeAttention(addon),
    ...nativeScaledRope(addon),
    ...nativeElementwise(addon),
    ...nativeLinearAttention(addon),
    ...nativeMoE(addon),
    ...nativeConversions(addon),
    ...nativeSampling(addon),
  };
}
