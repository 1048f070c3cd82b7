// Placeholder: the owner of this kernel family replaces it with the wrapper over the addon.
import type { NativeAddon } from '../../native/addon.js';
import type { ConversionOps } from '../types.js';

export function nativeConversions(_addon: NativeAddon): ConversionOps {
  return new Proxy({} as ConversionOps, {
    get: () => () => {
      throw new Error('tensorloom: native conversions ops are not implemented yet');
    },
  });
}
