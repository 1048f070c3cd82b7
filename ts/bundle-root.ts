/**
 * Whether this code runs from the ESM bundle. scripts/build-ts.mjs bundles dist/esm/index.js and the
 * two worker entries (dist/esm/generate/worker.js, dist/esm/server/worker.js) with esbuild, their
 * shared code split into dist/esm/chunks/ — a few modules instead of ~200 keeps ~12 MB of per-module
 * loader memory off every thread that imports the package — and defines __TL_ESM_BUNDLE__ there;
 * tsc's per-file output and the TS sources leave it undefined. In the bundle, code can sit in an
 * entry or in a chunk, so a worker file is found from the package root, not from import.meta.url.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from './native/package-root.js';

declare const __TL_ESM_BUNDLE__: boolean | undefined;

export const esmBundled: boolean = typeof __TL_ESM_BUNDLE__ === 'boolean' && __TL_ESM_BUNDLE__;

/** The bundled entry `dist/esm/<rel>` (e.g. 'generate/worker.js') of this package. */
export function bundledEntry(rel: string): URL {
  return pathToFileURL(join(packageRoot(), 'dist', 'esm', ...rel.split('/')));
}
