/**
 * Entry points of the optional CUDA backend.
 *
 * Which addon holds the CUDA kernels: the one the CPU backend loaded when it was built with the
 * CUDA switch; otherwise `TENSORLOOM_CUDA_ADDON=/path/to/tensorloom.node`, or the cmake-js output
 * of `npm run build:cuda` (build-cuda/Release/tensorloom.node) when present.
 *
 *   cudaStatus()           never throws: { available, reason?, device?, ... }
 *   assertCudaAvailable()  throws the clear error when the CUDA backend cannot run
 *   getCudaBackend()       the backend (one per process), or that same error
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { loadAddon, type NativeAddon } from '../../native/addon.js';
import { packageRoot } from '../../native/package-root.js';
import type { CudaAddonInfo, CudaDeviceDescription } from './addon.js';
import { type CudaBackend, createCudaBackend } from './backend.js';

export type { CudaAttentionShape, CudaBackend, CudaBackendInfo, CudaDeviceOps } from './backend.js';
export type { CudaDeviceDescription } from './addon.js';
export { DeviceBuffer, type DeviceWeights } from './device.js';

export const NO_CUDA_BUILD = 'this build has no CUDA support: rebuild with npm run build:cuda';

export interface CudaStatus {
  available: boolean;
  /** Why the CUDA backend cannot run (absent when it can). */
  reason?: string;
  /** Whether the addon found has CUDA kernels compiled in. */
  built: boolean;
  deviceCount: number;
  devices: CudaDeviceDescription[];
  /** The addon binary with the CUDA kernels, when one was found. */
  addonPath?: string;
}

const require = createRequire(import.meta.url);
type Found = { addon: NativeAddon; path: string; info: CudaAddonInfo } | { error: string };
let found: Found | undefined;

function hasCuda(addon: NativeAddon): boolean {
  return typeof addon.cudaInfo === 'function' && addon.cudaInfo().built;
}

function findCudaAddon(): Found {
  if (found) return found;
  const base = loadAddon();
  const candidates: string[] = [];
  if (process.env.TENSORLOOM_CUDA_ADDON) candidates.push(process.env.TENSORLOOM_CUDA_ADDON);
  if (base.addon && base.path && hasCuda(base.addon)) {
    found = { addon: base.addon, path: base.path, info: base.addon.cudaInfo() };
    return found;
  }
  try {
    const cmakeOut = join(packageRoot(), 'build-cuda', 'Release', 'tensorloom.node');
    if (existsSync(cmakeOut)) candidates.push(cmakeOut);
  } catch {
    // no package root: only the environment variable can point at a CUDA build
  }
  const failures: string[] = [];
  for (const path of candidates) {
    try {
      const addon = require(path) as NativeAddon;
      if (hasCuda(addon)) {
        found = { addon, path, info: addon.cudaInfo() };
        return found;
      }
      failures.push(`${path} was built without CUDA`);
    } catch (err) {
      failures.push(`${path} could not be loaded: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const why = base.addon ? NO_CUDA_BUILD : `the native addon could not be loaded (${base.error}); the CUDA backend needs it: npm run build:cuda`;
  found = { error: failures.length ? `${why} (${failures.join('; ')})` : why };
  return found;
}

/** Whether the CUDA backend can run here, and if not, why. Never throws. */
export function cudaStatus(): CudaStatus {
  const f = findCudaAddon();
  if ('error' in f) return { available: false, reason: f.error, built: false, deviceCount: 0, devices: [] };
  const { info, path } = f;
  const available = info.deviceCount > 0 && info.error === undefined;
  return {
    available,
    ...(available ? {} : { reason: info.error ?? 'no CUDA device found' }),
    built: true,
    deviceCount: info.deviceCount,
    devices: info.devices,
    addonPath: path,
  };
}

/** Throws an Error saying what is missing (a CUDA build, or a CUDA device) when CUDA cannot run. */
export function assertCudaAvailable(): void {
  const s = cudaStatus();
  if (!s.available) throw new Error(`tensorloom: ${s.reason}`);
}

let backend: CudaBackend | undefined;

/** The CUDA backend (device 0, or TENSORLOOM_CUDA_DEVICE); throws the clear error when unavailable. */
export function getCudaBackend(): CudaBackend {
  if (backend) return backend;
  assertCudaAvailable();
  const f = findCudaAddon() as Exclude<Found, { error: string }>;
  const wanted = Number(process.env.TENSORLOOM_CUDA_DEVICE ?? 0);
  const device = f.info.devices[wanted] ?? f.info.devices[0]!;
  backend = createCudaBackend(f.addon, f.path, device);
  return backend;
}
