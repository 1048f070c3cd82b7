/**
 * Starts the generation worker from wherever this code runs:
 * - compiled ESM (dist/esm/generate/*.js, or the dist/esm/index.js bundle) → dist/esm/generate/worker.js
 * - the CommonJS bundle (dist/cjs/index.cjs) → dist/cjs/generate-worker.cjs (built beside it)
 * - TypeScript sources (vitest, tsx) → ts/generate/worker.ts, loaded through tsx's ESM hooks,
 *   which a worker does not inherit, so a tiny bootstrap registers them first.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { bundledEntry, esmBundled } from '../bundle-root.js';
import { createWorker, MODEL_WORKER_LIMITS } from './worker-exec-argv.js';

export function spawnWorker(workerData: unknown): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const require = createRequire(here);
    // tsx's ESM API: the 'import' condition's file (require.resolve gives the .cjs twin)
    const tsx = pathToFileURL(require.resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
    const entryUrl = new URL('./worker.ts', here).href;
    const boot =
      "const { workerData } = require('node:worker_threads');" +
      'import(workerData.__tsx).then((m) => { m.register(); return import(workerData.__entry); });';
    return createWorker(boot, { eval: true, workerData: { ...(workerData as object), __tsx: tsx, __entry: entryUrl }, resourceLimits: MODEL_WORKER_LIMITS });
  }
  const file = esmBundled ? bundledEntry('generate/worker.js') : new URL(here.endsWith('.cjs') ? './generate-worker.cjs' : './worker.js', here);
  return createWorker(file, { workerData, resourceLimits: MODEL_WORKER_LIMITS });
}
