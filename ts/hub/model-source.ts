/**
 * The hook loadModel (and the CLI) call before opening a model: no path → the built-in default
 * model; an hf: reference or URL → the cached file, downloaded first if needed; anything else →
 * the local path, untouched. The download options are taken off, so what remains can be posted
 * to the model's worker thread.
 */
import { defaultModelPath } from './default-model.js';
import { resolveModelFile, type ResolveModelOptions } from './resolve-model.js';

/** The loadModel options about where the model comes from (the rest configure the model itself). */
export type ModelSourceOptions = Pick<ResolveModelOptions, 'token' | 'endpoint' | 'cacheDir' | 'onProgress' | 'offline' | 'signal'>;

export async function resolveModelSource<T extends ModelSourceOptions>(path: string | undefined, options: T): Promise<{ path: string; options: Omit<T, keyof ModelSourceOptions> }> {
  const { token, endpoint, cacheDir, onProgress, offline, signal, ...rest } = options;
  if (path === undefined) return { path: defaultModelPath(), options: rest };
  const source: ResolveModelOptions = {
    ...(token !== undefined ? { token } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(cacheDir !== undefined ? { cacheDir } : {}),
    ...(onProgress !== undefined ? { onProgress } : {}),
    ...(offline !== undefined ? { offline } : {}),
    ...(signal !== undefined ? { signal } : {}),
  };
  return { path: typeof path === 'string' ? await resolveModelFile(path, source) : path, options: rest };
}
