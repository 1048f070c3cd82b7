/**
 * The CLI's download progress: a bar redrawn in place on a TTY (stderr), at most ~10 times a
 * second; elsewhere (a pipe, CI) one line per file when it starts, so logs stay short.
 */
import type { DownloadProgress } from './resolve-model.js';

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): { onProgress(p: DownloadProgress): void; done(): void } {
  const tty = stream.isTTY === true;
  let last = 0;
  let current = '';
  let started = Date.now();
  let drawn = false;
  return {
    onProgress(p) {
      const label = p.fileCount > 1 ? `${p.file} (${p.fileIndex + 1}/${p.fileCount})` : p.file;
      if (label !== current) {
        if (drawn) stream.write('\n');
        current = label;
        started = Date.now();
        drawn = false;
        if (!tty) stream.write(`downloading ${label}${p.totalBytes !== null ? ` (${mb(p.totalBytes)})` : ''}\n`);
      }
      if (!tty) return;
      const now = Date.now();
      const complete = p.totalBytes !== null && p.receivedBytes >= p.totalBytes;
      if (now - last < 100 && !complete) return;
      last = now;
      const rate = p.receivedBytes / Math.max(0.001, (now - started) / 1000);
      const width = 24;
      const frac = p.totalBytes ? Math.min(1, p.receivedBytes / p.totalBytes) : 0;
      const bar = p.totalBytes ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '-')}] ${(frac * 100).toFixed(0).padStart(3)}%` : '';
      const sizes = p.totalBytes ? `${mb(p.receivedBytes)}/${mb(p.totalBytes)}` : mb(p.receivedBytes);
      stream.write(`\r${label} ${bar} ${sizes} ${mb(rate)}/s\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\n');
      drawn = false;
    },
  };
}
