/**
 * `resolveModelFile(ref)`: an hf: reference or URL → the path of the model in the local cache,
 * downloading what is missing. A model already cached is returned without any network request, so
 * a cached model works offline. A local path is returned as given.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { defaultCacheDir, ensureWritableDir } from './cache-dir.js';
import { filesUnder, repoDir, urlPath } from './cache-layout.js';
import { downloadFile } from './download-file.js';
import { withDownloadLock } from './download-lock.js';
import { ModelFetchError } from './errors.js';
import { fileUrl, hubEndpoint, hubHeaders, isHubUrl, listRepoFiles, unauthorizedError, type HubOptions } from './hub-client.js';
import { isRemoteRef, parseModelRef, type ModelRef } from './model-ref.js';
import { describeGgufFiles, pickGguf } from './pick-file.js';
import { shardSet } from './shards.js';

export interface DownloadProgress {
  /** The file being downloaded (repo path, or the URL's file name). */
  file: string;
  /** 0-based index among the files of this model (shards), and how many there are. */
  fileIndex: number;
  fileCount: number;
  receivedBytes: number;
  /** null when the server does not say. */
  totalBytes: number | null;
}

export interface ResolveModelOptions extends HubOptions {
  /** Cache folder; default $TENSORLOOM_CACHE, else the platform cache folder (see defaultCacheDir). */
  cacheDir?: string;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Never touch the network: a model not in the cache is an error. */
  offline?: boolean;
  /** Attempts in a row that bring no byte before a download gives up (default 5), and the first retry's delay in ms (default 250, doubling). */
  retries?: number;
  retryDelayMs?: number;
  /** A connection that brings no byte for this long (ms) is dropped and resumed. Default 60 000. */
  idleTimeoutMs?: number;
}

export async function resolveModelFile(ref: string, options: ResolveModelOptions = {}): Promise<string> {
  if (!isRemoteRef(ref)) return ref;
  const r = parseModelRef(ref);
  const cache = options.cacheDir ?? defaultCacheDir();
  return r.kind === 'url' ? resolveUrl(r.url, ref, cache, options) : resolveHub(r, ref, cache, options);
}

/** The downloadFile options every download shares. */
function downloadDefaults(options: ResolveModelOptions) {
  return {
    headersFor: (url: URL) => hubHeaders(url, options),
    trusted: (url: URL) => isHubUrl(url, options),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

async function resolveUrl(url: URL, ref: string, cache: string, options: ResolveModelOptions): Promise<string> {
  const dest = urlPath(cache, url);
  if (existsSync(dest)) return dest;
  if (options.offline) throw notCached(ref);
  ensureWritableDir(cache);
  ensureWritableDir(dirname(dest));
  const file = dest.split(/[\\/]/).pop()!;
  const httpError = async (status: number, at: URL): Promise<Error> => {
    if (status === 401 || status === 403) {
      return isHubUrl(at, options) ? unauthorizedError(url.href, status, options) : new ModelFetchError('UNAUTHORIZED', `tensorloom: ${url.href}: HTTP ${status}: the server refuses access`);
    }
    return new ModelFetchError(status === 404 ? 'NOT_FOUND' : 'HTTP', `tensorloom: ${url.href}: HTTP ${status}${status === 404 ? ' (not found)' : ''}`);
  };
  await withDownloadLock(
    dest,
    () => existsSync(dest),
    () =>
      downloadFile({
        ...downloadDefaults(options),
        url: url.href,
        dest,
        label: url.href,
        httpError,
        ...(options.onProgress ? { onProgress: (receivedBytes: number, totalBytes: number | null) => options.onProgress!({ file, fileIndex: 0, fileCount: 1, receivedBytes, totalBytes }) } : {}),
      }),
    options.signal,
  );
  writeFileSync(`${dest}.url`, url.href + '\n'); // for tensorloom ls
  return dest;
}

async function resolveHub(r: Extract<ModelRef, { kind: 'hf' }>, ref: string, cache: string, options: ResolveModelOptions): Promise<string> {
  const common = downloadDefaults(options);
  const dir = repoDir(cache, r.repo);
  // The cache first: a cached model never touches the network. (hf:owner/repo with neither file
  // nor quant is the repo's only GGUF; from the cache, the only one of the repo's GGUFs there.)
  if (r.file !== undefined) {
    const set = shardSet(r.file);
    if (set.every((f) => existsSync(join(dir, f)))) return join(dir, set[0]!);
  } else {
    const cached = filesUnder(dir).filter((f) => !f.endsWith('.part'));
    const hit = pickGguf(r.repo, cached, r.quant, false);
    if (hit !== null && shardSet(hit).every((f) => existsSync(join(dir, f)))) return join(dir, hit);
  }
  if (options.offline) throw notCached(ref);
  ensureWritableDir(cache);
  ensureWritableDir(dir);

  const file = r.file ?? pickGguf(r.repo, await listRepoFiles(r.repo, options), r.quant)!;
  const set = shardSet(file);
  for (const [fileIndex, f] of set.entries()) {
    const dest = join(dir, f);
    if (existsSync(dest)) continue;
    ensureWritableDir(dirname(dest));
    await withDownloadLock(dest, () => existsSync(dest), () => downloadFile({
      ...common,
      url: fileUrl(r.repo, f, options),
      dest,
      label: `hf:${r.repo}/${f}`,
      httpError: (status) => hubFileError(r.repo, f, status, options),
      ...(options.onProgress ? { onProgress: (receivedBytes: number, totalBytes: number | null) => options.onProgress!({ file: f, fileIndex, fileCount: set.length, receivedBytes, totalBytes }) } : {}),
    }), options.signal);
  }
  return join(dir, set[0]!);
}

function notCached(ref: string): ModelFetchError {
  return new ModelFetchError('NOT_CACHED', `tensorloom: ${ref} is not in the cache and offline mode forbids downloading it`);
}

/** The message for a failed hub download: a 404 names the repo and file and lists the repo's GGUF files. */
async function hubFileError(repo: string, file: string, status: number, options: ResolveModelOptions): Promise<Error> {
  if (status === 401 || status === 403) return unauthorizedError(`hf:${repo}/${file}`, status, options);
  if (status !== 404) return new ModelFetchError('HTTP', `tensorloom: hf:${repo}/${file}: HTTP ${status} from ${hubEndpoint(options)}`);
  let files: string[];
  try {
    files = await listRepoFiles(repo, options);
  } catch (err) {
    if (err instanceof ModelFetchError && err.code === 'NOT_FOUND') return err; // the repo itself is missing
    return new ModelFetchError('NOT_FOUND', `tensorloom: ${repo} has no file ${file} (HTTP 404)`);
  }
  return new ModelFetchError('NOT_FOUND', `tensorloom: ${repo} has no file ${file} (HTTP 404); ${describeGgufFiles(repo, files)}`);
}
