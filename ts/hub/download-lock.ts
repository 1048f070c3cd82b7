/**
 * One download per cache file at a time. In this process, a second request for a file already
 * being downloaded waits for that download; across processes, DEST.lock holds the downloader's
 * pid, and a second process waits until it is gone (a lock whose process has died is stale and
 * taken over). Without this, two downloads would append to the same DEST.part.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { ModelFetchError } from './errors.js';

const inFlight = new Map<string, Promise<void>>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes DEST.lock, or returns false while a live process holds it. */
function tryLock(lock: string): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ModelFetchError('CACHE_NOT_WRITABLE', `tensorloom: cannot create ${lock}: ${(err as Error).message}`, { cause: err });
      }
      let pid = NaN;
      try {
        pid = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        // removed meanwhile: try again
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return false;
      rmSync(lock, { force: true }); // stale: its process is gone
    }
  }
  return false;
}

/**
 * Runs `download` for `dest` unless it is already running (then waits for it). `done()` says
 * whether the file is there after another process's download (then nothing is downloaded).
 */
export async function withDownloadLock(dest: string, done: () => boolean, download: () => Promise<void>, signal?: AbortSignal): Promise<void> {
  const running = inFlight.get(dest);
  if (running) {
    await running.catch(() => undefined);
    if (done()) return;
  }
  const lock = `${dest}.lock`;
  const job = (async () => {
    while (!tryLock(lock)) {
      if (signal?.aborted) throw signal.reason;
      await new Promise((r) => setTimeout(r, 500));
    }
    try {
      if (!done()) await download();
    } finally {
      rmSync(lock, { force: true });
    }
  })();
  inFlight.set(dest, job);
  try {
    await job;
  } finally {
    if (inFlight.get(dest) === job) inFlight.delete(dest);
  }
}
