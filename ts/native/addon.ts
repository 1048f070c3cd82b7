import { createRequire } from 'node:module';
import { packageRoot } from './package-root.js';
import type { NativeAddon } from './addon-types.js';

export type { NativeAddon } from './addon-types.js';

const require = createRequire(import.meta.url);

interface LoadResult {
  addon: NativeAddon | null;
  /** Where the binary came from, or why none could be loaded. */
  path: string | null;
  error: string | null;
}

let cached: LoadResult | undefined;

/**
 * Loads the native addon once per thread. `TENSORLOOM_ADDON=/path/to/tensorloom.node` picks a
 * specific binary (sanitizer builds, cmake-js builds); otherwise node-gyp-build finds
 * `prebuilds/<platform>-<arch>/` or `build/Release/`. Never throws: a failure is reported in
 * `error` and the caller falls back to the JS backend.
 */
export function loadAddon(): LoadResult {
  if (cached) return cached;
  try {
    const explicit = process.env.TENSORLOOM_ADDON;
    let path: string;
    if (explicit) {
      path = explicit;
    } else {
      const nodeGypBuild = require('node-gyp-build') as { path(dir: string): string };
      path = nodeGypBuild.path(packageRoot());
    }
    const addon = require(path) as NativeAddon;
    cached = { addon, path, error: null };
  } catch (err) {
    cached = { addon: null, path: null, error: err instanceof Error ? err.message : String(err) };
  }
  return cached;
}
