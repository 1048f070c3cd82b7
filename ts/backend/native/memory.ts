/**
 * Memory for large long-lived buffers (the KV cache) from the addon's hugeBuffer: zeroed anonymous
 * memory in 2 MiB pages where the OS allows (native/binding/files.cpp explains why); a plain
 * ArrayBuffer where the addon has no hugeBuffer (no mmap on the platform).
 */
import type { NativeAddon } from '../../native/addon.js';
import { expectDim } from '../checks.js';
import type { Backend } from '../types.js';

declare module '../../native/addon-types.js' {
  interface NativeAddon {
    hugeBuffer?(bytes: number): ArrayBuffer;
  }
}

export function nativeMemory(addon: NativeAddon): Pick<Backend, 'allocate'> {
  return {
    allocate(bytes: number): ArrayBuffer {
      expectDim('allocate: bytes', bytes, 0, 2 ** 50);
      return addon.hugeBuffer ? addon.hugeBuffer(bytes) : new ArrayBuffer(bytes);
    },
  };
}
