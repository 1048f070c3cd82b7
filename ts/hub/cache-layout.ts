/**
 * Where a reference lives inside the cache folder:
 *   <cache>/hf/<owner>/<repo>/<file path>             hub files, under the repo's own paths
 *   <cache>/url/<host>/<sha256(url)[:16]>/<file name>  plain URLs (DEST.url holds the URL, for ls)
 * A file is present only once complete (downloads go to DEST.part and are renamed when verified).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

export function repoDir(cache: string, repo: string): string {
  return join(cache, 'hf', ...repo.split('/'));
}

export function urlPath(cache: string, url: URL): string {
  const name = decodeURIComponent(url.pathname.split('/').pop() ?? '').replace(/[^A-Za-z0-9._-]/g, '_') || 'model.gguf';
  const host = url.host.replace(/[^A-Za-z0-9.-]/g, '_');
  return join(cache, 'url', host, createHash('sha256').update(url.href).digest('hex').slice(0, 16), name);
}

/** Files under `dir` (recursively) as '/'-separated paths relative to it. */
export function filesUnder(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}
