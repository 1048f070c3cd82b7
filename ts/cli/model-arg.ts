/**
 * The --model argument of generate / serve (and chat): missing → the built-in default model,
 * announced in one stderr line; hf: or URL → downloaded into the cache with a progress bar;
 * a local path → as given.
 */
import { defaultModelNotice, defaultModelPath } from '../hub/default-model.js';
import { isRemoteRef } from '../hub/model-ref.js';
import { progressPrinter } from '../hub/progress-bar.js';
import { resolveModelFile } from '../hub/resolve-model.js';

export async function resolveModelArg(model: string | undefined, options: { token?: string } = {}): Promise<string> {
  if (model === undefined) {
    process.stderr.write(defaultModelNotice() + '\n');
    return defaultModelPath();
  }
  if (!isRemoteRef(model)) return model;
  const bar = progressPrinter();
  try {
    return await resolveModelFile(model, { ...(options.token !== undefined ? { token: options.token } : {}), onProgress: bar.onProgress });
  } finally {
    bar.done();
  }
}
