/**
 * One file from a URL into the cache, the safe way:
 * - into DEST.part, renamed to DEST only once complete and verified, so DEST either does not exist
 *   or is the whole file (an interrupted download never leaves a corrupt model);
 * - resumable: an existing DEST.part is continued with an HTTP Range request, and a connection
 *   that drops mid-file is retried from where it stopped;
 * - verified: the size the server announced (X-Linked-Size, Content-Range, Content-Length) and,
 *   when the hub gives one (X-Linked-Etag / ETag of 64 hex digits), the sha256;
 * - checked early: the first 4 bytes must be the GGUF magic, so a web page or another format
 *   fails at once instead of after the whole download;
 * - the free disk space is checked before writing, and ENOSPC while writing is reported as such.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, rmSync, statSync } from 'node:fs';
import { open, rename, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ModelFetchError } from './errors.js';
import { causeText } from './hub-client.js';

const GGUF_MAGIC = Buffer.from('GGUF', 'latin1');
const REDIRECTS = [301, 302, 303, 307, 308];

export interface DownloadFileOptions {
  url: string;
  dest: string;
  /** How messages name the file (an hf: reference or the URL). */
  label: string;
  /** Extra request headers for a URL (the hub token goes to the hub's origin only). */
  headersFor(url: URL): Record<string, string>;
  /** Whether a response from this URL may announce the sha256 and size (the hub's own responses). */
  trusted(url: URL): boolean;
  /** The error for an HTTP status other than 200/206/416 (404 lists the repo's files, 401 says how to pass a token). */
  httpError(status: number, url: URL): Promise<Error>;
  onProgress?: (receivedBytes: number, totalBytes: number | null) => void;
  signal?: AbortSignal;
  /** Consecutive failed attempts (no byte received) before giving up. Default 5. */
  retries?: number;
  /** Milliseconds before the first retry (doubling). Default 250. */
  retryDelayMs?: number;
  /** A connection that brings no byte for this long is dropped and resumed. Default 60 000. */
  idleTimeoutMs?: number;
}

/** One attempt's abort signal: the caller's, or a stall (no byte for idleTimeoutMs). */
interface Attempt {
  signal: AbortSignal;
  /** Restarts the stall timer (called on every chunk). */
  kick(): void;
  end(): void;
}

function startAttempt(o: DownloadFileOptions): Attempt {
  const own = new AbortController();
  const idle = o.idleTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const kick = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => own.abort(new Error(`no data for ${idle / 1000} s`)), idle);
    timer.unref?.();
  };
  let signal = own.signal;
  if (o.signal) {
    if (typeof AbortSignal.any === 'function') signal = AbortSignal.any([o.signal, own.signal]);
    else o.signal.addEventListener('abort', () => own.abort(o.signal!.reason), { once: true });
  }
  kick();
  return { signal, kick, end: () => clearTimeout(timer) };
}

interface Expected {
  size?: number;
  sha256?: string;
}

function sha256FromEtag(etag: string | null): string | undefined {
  const v = etag?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return v && /^[0-9a-f]{64}$/.test(v) ? v : undefined;
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** GET with redirects followed by hand, so the hub's own headers (size, sha256) are seen and the token stays with the hub. */
async function request(o: DownloadFileOptions, offset: number, expected: Expected, signal: AbortSignal): Promise<{ res: Response; url: URL }> {
  let url = new URL(o.url);
  for (let hop = 0; hop <= 10; hop++) {
    const headers: Record<string, string> = { ...o.headersFor(url), 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const res = await fetch(url, { headers, redirect: 'manual', signal });
    if (o.trusted(url)) {
      expected.sha256 ??= sha256FromEtag(res.headers.get('x-linked-etag')) ?? sha256FromEtag(res.headers.get('etag'));
      const linked = Number(res.headers.get('x-linked-size'));
      if (res.headers.has('x-linked-size') && Number.isSafeInteger(linked) && linked >= 0) expected.size ??= linked;
    }
    if (!REDIRECTS.includes(res.status)) return { res, url };
    await res.body?.cancel();
    const location = res.headers.get('location');
    if (!location) throw new ModelFetchError('HTTP', `tensorloom: ${o.label}: HTTP ${res.status} redirect without a Location from ${url.href}`);
    url = new URL(location, url);
  }
  throw new ModelFetchError('HTTP', `tensorloom: ${o.label}: more than 10 redirects`);
}

/** Total size from `Content-Range: bytes a-b/TOTAL` (or `bytes *\/TOTAL` on a 416). */
function rangeInfo(res: Response): { start: number | null; total: number | null } {
  const m = /^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)$/i.exec(res.headers.get('content-range') ?? '');
  if (!m) return { start: null, total: null };
  return { start: m[1] !== undefined ? Number(m[1]) : null, total: m[2] === '*' ? null : Number(m[2]) };
}

/** The first `n` bytes of a file (fewer if it is shorter). */
async function readHead(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function notGguf(o: DownloadFileOptions, head: Buffer, part: string): ModelFetchError {
  rmSync(part, { force: true });
  const shown = JSON.stringify(head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'));
  return new ModelFetchError('NOT_GGUF', `tensorloom: ${o.label} is not a GGUF file (it starts with ${shown}, not "GGUF"); tensorloom downloads GGUF models only — check the URL, or convert other formats with 'tensorloom convert'`);
}

async function checkFreeSpace(o: DownloadFileOptions, need: number): Promise<void> {
  let free: number;
  try {
    const s = await statfs(dirname(o.dest));
    free = Number(s.bavail) * Number(s.bsize);
  } catch {
    return; // statfs unsupported here: ENOSPC while writing still reports it
  }
  if (free < need) {
    throw new ModelFetchError('DISK_FULL', `tensorloom: not enough disk space for ${o.label}: it needs ${mb(need)} more, ${mb(free)} free in ${dirname(o.dest)}; free some space (or set TENSORLOOM_CACHE to another disk) and run again — the download resumes`);
  }
}

export async function downloadFile(o: DownloadFileOptions): Promise<void> {
  const part = `${o.dest}.part`;
  const retries = o.retries ?? 5;
  const expected: Expected = {};
  let failures = 0;
  let lastError: unknown = null;
  for (;;) {
    if (failures > retries) {
      const have = existsSync(part) ? statSync(part).size : 0;
      throw new ModelFetchError('NETWORK', `tensorloom: downloading ${o.label} failed ${failures} times in a row (${(lastError as Error)?.message ?? 'connection dropped'}${causeText(lastError)}); ${mb(have)} are kept in the cache, run again to resume`, { cause: lastError });
    }
    if (failures > 0) await new Promise((r) => setTimeout(r, (o.retryDelayMs ?? 250) * 2 ** (failures - 1)));
    let offset = existsSync(part) ? statSync(part).size : 0;
    if (expected.size !== undefined && offset > expected.size) {
      rmSync(part, { force: true });
      offset = 0;
    }
    const attempt = startAttempt(o);
    let res: Response;
    let url: URL;
    try {
      ({ res, url } = await request(o, offset, expected, attempt.signal));
    } catch (err) {
      attempt.end();
      if (o.signal?.aborted || err instanceof ModelFetchError) throw err;
      lastError = attempt.signal.aborted ? attempt.signal.reason : err;
      failures++;
      continue;
    }
    try {
      if (res.status === 416) {
        // Nothing after `offset`: the part is complete (verified below) or stale.
        await res.body?.cancel();
        const total = rangeInfo(res).total ?? expected.size;
        if (total === undefined || total === null || offset !== total) {
          rmSync(part, { force: true });
          failures++;
          continue;
        }
        expected.size ??= total;
      } else if (res.status === 200 || res.status === 206) {
        if (res.status === 200) offset = 0; // the server ignored the Range: start over
        else if (rangeInfo(res).start !== offset) {
          await res.body?.cancel();
          rmSync(part, { force: true });
          failures++;
          continue;
        }
        const length = Number(res.headers.get('content-length'));
        const total = res.status === 206 ? rangeInfo(res).total : res.headers.has('content-length') && Number.isSafeInteger(length) ? length : null;
        if (total !== null && total !== undefined) {
          if (expected.size !== undefined && expected.size !== total) {
            await res.body?.cancel();
            throw new ModelFetchError('VERIFY_FAILED', `tensorloom: ${o.label}: the hub announced ${expected.size} bytes but ${url.host} sends ${total}; run again, or report it to the repo's owner`);
          }
          expected.size = total;
        }
        if (expected.size !== undefined) {
          try {
            await checkFreeSpace(o, expected.size - offset);
          } catch (err) {
            await res.body?.cancel();
            throw err;
          }
        }
        const before = offset;
        try {
          offset = await receive(o, res, part, offset, expected.size ?? null, attempt.kick);
        } catch (err) {
          if (err instanceof ModelFetchError || o.signal?.aborted) throw err;
          // A dropped or stalled connection: resume from what arrived (a round that brought bytes resets the count).
          lastError = attempt.signal.aborted ? attempt.signal.reason : err;
          const now = existsSync(part) ? statSync(part).size : 0;
          failures = now > before ? 1 : failures + 1;
          continue;
        }
        if (expected.size !== undefined && offset < expected.size) {
          lastError = new Error(`the server closed the connection at ${offset} of ${expected.size} bytes`);
          failures = offset > before ? 1 : failures + 1;
          continue;
        }
      } else {
        await res.body?.cancel();
        throw await o.httpError(res.status, url);
      }
    } finally {
      attempt.end();
    }
    await finish(o, part, expected);
    return;
  }
}

/** Streams the body into the part file from `offset`; returns the new size. */
async function receive(o: DownloadFileOptions, res: Response, part: string, offset: number, total: number | null, kick: () => void): Promise<number> {
  const start = offset === 0 ? Buffer.alloc(0) : await readHead(part, 4);
  if (start.length >= 4 && !start.equals(GGUF_MAGIC)) throw notGguf(o, start, part);
  const fh = await open(part, offset === 0 ? 'w' : 'a');
  let head: Buffer | null = start.length < 4 ? start : null;
  try {
    if (!res.body) return offset;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (head) {
        head = Buffer.concat([head, chunk]);
        if (head.length >= 4) {
          if (!head.subarray(0, 4).equals(GGUF_MAGIC)) {
            await fh.close().catch(() => undefined);
            throw notGguf(o, head.subarray(0, 4), part);
          }
          head = null;
        }
      }
      if (total !== null && offset + chunk.length > total) {
        await fh.close().catch(() => undefined);
        rmSync(part, { force: true });
        throw new ModelFetchError('VERIFY_FAILED', `tensorloom: ${o.label}: the server sent more than the ${total} bytes it announced; the partial file was removed, run again`);
      }
      try {
        await fh.write(chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') {
          throw new ModelFetchError('DISK_FULL', `tensorloom: the disk is full while downloading ${o.label} (${mb(offset)} written to ${part}); free some space (or set TENSORLOOM_CACHE to another disk) and run again — the download resumes`, { cause: err });
        }
        throw new ModelFetchError('CACHE_NOT_WRITABLE', `tensorloom: cannot write ${part}: ${(err as Error).message}`, { cause: err });
      }
      offset += chunk.length;
      kick();
      o.onProgress?.(offset, total);
    }
    return offset;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Size and sha256 checks, then the atomic rename that makes the file visible. */
async function finish(o: DownloadFileOptions, part: string, expected: Expected): Promise<void> {
  const size = statSync(part).size;
  if (size < 4) throw notGguf(o, await readHead(part, 4), part);
  if (expected.size !== undefined && size !== expected.size) {
    rmSync(part, { force: true });
    throw new ModelFetchError('VERIFY_FAILED', `tensorloom: ${o.label}: downloaded ${size} bytes, expected ${expected.size}; the partial file was removed, run again`);
  }
  if (expected.sha256) {
    const got = await sha256OfFile(part);
    if (got !== expected.sha256) {
      rmSync(part, { force: true });
      throw new ModelFetchError('VERIFY_FAILED', `tensorloom: ${o.label}: sha256 ${got} differs from the hub's ${expected.sha256}; the download was removed, run again`);
    }
  }
  await rename(part, o.dest);
}
