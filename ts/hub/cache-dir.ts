/**
 * Where downloaded models live: $TENSORLOOM_CACHE when set, else tensorloom/ in the platform's
 * cache folder — $XDG_CACHE_HOME or ~/.cache on Linux, ~/Library/Caches on macOS,
 * %LOCALAPPDATA% on Windows.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ModelFetchError } from './errors.js';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home: string = homedir()): string {
  if (env.TENSORLOOM_CACHE) return env.TENSORLOOM_CACHE;
  if (platform === 'win32') return join(env.LOCALAPPDATA || join(home, 'AppData', 'Local'), 'tensorloom', 'Cache');
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'tensorloom');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'tensorloom');
}

/** Creates `dir` (and parents) and checks it can be written, with an error that says how to fix it. */
export function ensureWritableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ModelFetchError(
      'CACHE_NOT_WRITABLE',
      `tensorloom: the model cache folder '${dir}' is not writable (${code}); set TENSORLOOM_CACHE (or the cacheDir option) to a folder you can write`,
      { cause: err },
    );
  }
}
