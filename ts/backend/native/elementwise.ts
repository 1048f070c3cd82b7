// Placeholder: the owner of this kernel family replaces it with the wrapper over the addon.
import type { NativeAddon } from '../../native/addon.js';
import type { ElementwiseOps } from '../types.js';

export function nativeElementwise(_addon: NativeAddon): ElementwiseOps {
  return new Proxy({} as ElementwiseOps, {
    get: () => () => {
      throw new Error('tensorloom: native elementwise ops are not implemented yet');
    },
  });
}
