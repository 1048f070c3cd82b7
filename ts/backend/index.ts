import { loadAddon } from '../native/addon.js';
import { createJsBackend } from './js/index.js';
import { createNativeBackend } from './native/index.js';
import type { Backend, BackendInfo, IsaName } from './types.js';

export * from './types.js';

export type BackendName = 'native' | 'js';

let nativeBackend: Backend | null | undefined;
let jsBackend: Backend | undefined;
let warned = false;

function native(): Backend | null {
  if (nativeBackend === undefined) {
    const { addon, path, error } = loadAddon();
    nativeBackend = addon && path ? createNativeBackend(addon, path) : null;
    if (!nativeBackend && !warned) {
      warned = true;
      process.emitWarning(`tensorloom: the native addon could not be loaded (${error}); using the pure-JS backend, which is much slower.`);
    }
  }
  return nativeBackend;
}

/**
 * The backend to run on. Default: native when the addon loads, else js (with one warning).
 * `TENSORLOOM_BACKEND=js|native` or the `name` argument choose explicitly; asking for native
 * when it cannot load throws with the reason.
 */
export function getBackend(name?: BackendName): Backend {
  const want = name ?? (process.env.TENSORLOOM_BACKEND as BackendName | undefined);
  if (want !== undefined && want !== 'native' && want !== 'js') {
    throw new RangeError(`tensorloom: backend must be 'native' or 'js', got '${String(want)}'`);
  }
  if (want === 'js') return (jsBackend ??= createJsBackend());
  const n = native();
  if (n) return n;
  if (want === 'native') throw new Error(`tensorloom: the native backend is not available: ${loadAddon().error}`);
  return (jsBackend ??= createJsBackend(loadAddon().error ?? undefined));
}

/** Which backend, SIMD path and thread count are in use, e.g. `{ backend: 'native', isa: 'avx2', threads: 2 }`. */
export function backendInfo(name?: BackendName): BackendInfo {
  return getBackend(name).info();
}

/**
 * Caps the SIMD path of the native kernels ('scalar' | 'avx2' | 'avx512' | 'avx512vnni' | 'avx512bf16' |
 * 'neon'), as the TENSORLOOM_ISA environment variable does at load. Returns the path now in use and
 * whether the CPU supports the requested one.
 */
export function setIsa(isa: IsaName): { isa: IsaName; supported: boolean } {
  const { addon, error } = loadAddon();
  if (!addon) throw new Error(`tensorloom: setIsa needs the native backend: ${error}`);
  return addon.setIsa(isa) as { isa: IsaName; supported: boolean };
}

/** Number of threads in the native pool (default: physical cores). */
export function setThreads(n: number): number {
  return getBackend().setThreads(n);
}
