// Placeholder: the owner of this kernel family replaces it with the wrapper over the addon.
import type { NativeAddon } from '../../native/addon.js';
import type { MatmulOps } from '../types.js';

export function nativeMatmul(_addon: NativeAddon): MatmulOps {
  return new Proxy({} as MatmulOps, {
    get: () => () => {
      throw new Error('tensorloom: native matmul ops are not implemented yet');
    },
  });
}
