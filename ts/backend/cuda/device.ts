/**
 * Device memory as JS objects: a DeviceBuffer owns one allocation (freed by `free()`, or by the
 * garbage collector if forgotten — call free() for anything large: the GC does not see GPU
 * memory), and DeviceWeights is a weight matrix resident on the GPU, in its file's dtype.
 */
import type { NativeAddon } from '../../native/addon.js';
import type { DType, Weights } from '../types.js';
import type { CudaHandle } from './addon.js';

export class DeviceBuffer {
  #handle: CudaHandle | null;
  readonly #addon: NativeAddon;
  /** Size of the allocation in bytes. */
  readonly bytes: number;

  constructor(addon: NativeAddon, bytes: number) {
    this.#addon = addon;
    this.#handle = addon.cudaAlloc(bytes);
    this.bytes = bytes;
  }

  /** The native handle; throws once the buffer is freed. */
  get handle(): CudaHandle {
    if (!this.#handle) throw new Error('tensorloom: this CUDA buffer was already freed');
    return this.#handle;
  }

  get freed(): boolean {
    return this.#handle === null;
  }

  /** Copies host data to the buffer, at byteOffset (default 0). */
  write(source: ArrayBufferView, byteOffset = 0): void {
    this.#addon.cudaUpload(this.handle, source, byteOffset);
  }

  /** Fills `target` from the buffer, starting at byteOffset (default 0); waits for pending work. */
  read<T extends ArrayBufferView>(target: T, byteOffset = 0): T {
    this.#addon.cudaDownload(this.handle, target, byteOffset);
    return target;
  }

  /** Releases the device memory now. Idempotent. */
  free(): void {
    if (this.#handle) this.#addon.cudaFree(this.#handle);
    this.#handle = null;
  }
}

/** A weight matrix on the GPU, row-major [rows, cols] (see Weights in ../types.ts). */
export interface DeviceWeights {
  readonly dtype: DType;
  readonly rows: number;
  readonly cols: number;
  readonly buffer: DeviceBuffer;
}

export function isDeviceWeights(w: Weights | DeviceWeights): w is DeviceWeights {
  return (w as DeviceWeights).buffer instanceof DeviceBuffer;
}
