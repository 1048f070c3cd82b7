/**
 * Where the ESM bundle that holds this code sits relative to dist/esm/. scripts/build-ts.mjs bundles
 * dist/esm/index.js ('./') and the two worker entries ('../') into one file each — one module instead
 * of ~200 keeps ~12 MB of per-module loader memory off every thread that imports the package — and
 * defines __TL_ESM_BUNDLE_ROOT__ there; tsc's per-file output and the TS sources leave it undefined.
 * Code that starts a worker by relative path resolves it from this root when bundled.
 */
declare const __TL_ESM_BUNDLE_ROOT__: string | undefined;

export const esmBundleRoot: string | undefined = typeof __TL_ESM_BUNDLE_ROOT__ === 'string' ? __TL_ESM_BUNDLE_ROOT__ : undefined;
