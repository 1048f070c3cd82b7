// Placeholder: the owner of this kernel family replaces it with the wrapper over the addon.
import type { NativeAddon } from '../../native/addon.js';
import type { AttentionOps } from '../types.js';

export function nativeAttention(_addon: NativeAddon): AttentionOps {
  return new Proxy({} as AttentionOps, {
    get: () => () => {
      throw new Error('tensorloom: native attention ops are not implemented yet');
    },
  });
}
