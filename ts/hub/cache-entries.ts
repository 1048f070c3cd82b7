/**
 * What `tensorloom ls` and `tensorloom rm` see: the models in the cache (a split model is one
 * entry, named by its first shard) and unfinished downloads (.part files, resumed by the next pull).
 */
import { existsSync, readFileSync, readdirSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultCacheDir } from './cache-dir.js';
import { filesUnder, repoDir, urlPath } from './cache-layout.js';
import { ModelFetchError } from './errors.js';
import { parseModelRef } from './model-ref.js';
import { ggufModels, pickGguf } from './pick-file.js';
import { shardSet } from './shards.js';

export interface CachedModel {
  /** How to name it again: hf:owner/repo/file.gguf, or the URL it came from. */
  ref: string;
  /** Path of the model file (the first shard for a split model). */
  path: string;
  /** Bytes on disk, all shards together (partial ones included). */
  bytes: number;
  /** Shards on disk / in the model (1 / 1 when not split). */
  files: number;
  fileCount: number;
  /** True while a shard is missing or a download is unfinished. */
  partial: boolean;
}

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

function entry(ref: string, dir: string, model: string): CachedModel {
  const set = shardSet(model);
  const done = set.filter((f) => existsSync(join(dir, f))).length;
  return {
    ref,
    path: join(dir, set[0]!),
    bytes: set.reduce((n, f) => n + size(join(dir, f)) + size(join(dir, f) + '.part'), 0),
    files: done,
    fileCount: set.length,
    partial: done < set.length,
  };
}

export function listCachedModels(cacheDir: string = defaultCacheDir()): CachedModel[] {
  const out: CachedModel[] = [];
  const hf = join(cacheDir, 'hf');
  for (const owner of existsSync(hf) ? readdirSync(hf) : []) {
    for (const name of readdirSync(join(hf, owner))) {
      const dir = join(hf, owner, name);
      const files = filesUnder(dir).map((f) => f.replace(/\.part$/, ''));
      for (const m of ggufModels(files)) out.push(entry(`hf:${owner}/${name}/${m}`, dir, m));
    }
  }
  const urlRoot = join(cacheDir, 'url');
  const urlFiles = new Set(filesUnder(urlRoot).filter((f) => !f.endsWith('.url') && !f.endsWith('.lock')).map((f) => f.replace(/\.part$/, '')));
  for (const f of urlFiles) {
    const path = join(urlRoot, f);
    const ref = existsSync(`${path}.url`) ? readFileSync(`${path}.url`, 'utf8').trim() : path;
    out.push({ ref, path, bytes: size(path) + size(`${path}.part`), files: existsSync(path) ? 1 : 0, fileCount: 1, partial: !existsSync(path) });
  }
  return out;
}

/** Removes a cached model (all its shards and unfinished parts); returns the paths removed. */
export function removeCachedModel(ref: string, cacheDir: string = defaultCacheDir()): string[] {
  const r = parseModelRef(ref);
  const removed: string[] = [];
  const rm = (p: string): void => {
    if (!existsSync(p)) return;
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  };
  let pruneFrom: string;
  if (r.kind === 'url') {
    const path = urlPath(cacheDir, r.url);
    for (const p of [path, `${path}.part`, `${path}.url`]) rm(p);
    pruneFrom = dirname(path);
  } else {
    const dir = repoDir(cacheDir, r.repo);
    if (r.file === undefined && r.quant === undefined) rm(dir);
    else {
      const present = filesUnder(dir).map((f) => f.replace(/\.part$/, ''));
      const model = r.file ?? pickGguf(r.repo, present, r.quant, false);
      if (model === null && r.quant !== undefined && ggufModels(present).length > 0) {
        pickGguf(r.repo, present, r.quant, true); // throws: none or several match, with the list
      }
      for (const f of model ? shardSet(model) : []) for (const p of [join(dir, f), join(dir, f) + '.part']) rm(p);
    }
    pruneFrom = dir;
  }
  if (removed.length === 0) throw new ModelFetchError('NOT_CACHED', `tensorloom: ${ref} is not in the cache ${cacheDir} ('tensorloom ls' lists what is)`);
  // Drop folders the removal left empty, up to the cache root.
  for (let d = pruneFrom; d.startsWith(cacheDir) && d !== cacheDir; d = dirname(d)) {
    try {
      if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
      else if (existsSync(d)) break;
    } catch {
      break;
    }
  }
  return removed;
}
