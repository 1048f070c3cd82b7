/**
 * Reads a request body as text, bounded in size and in time: more than `limit` bytes is a 413, a
 * body that stalls for `idleMs` or takes longer than `totalMs` in all (one byte every 100 ms
 * never stalls, but never ends either) is a 408. A body a framework already parsed
 * (`req.body`) is used as it is.
 */
import type { IncomingMessage } from 'node:http';
import { AbortError, RequestError } from './errors.js';

export interface BodyLimits {
  /** Largest body in bytes. */
  limit: number;
  /** Longest pause between two chunks. */
  idleMs: number;
  /** Longest time for the whole body. */
  totalMs: number;
}

export function readBody(req: IncomingMessage, { limit, idleMs, totalMs }: BodyLimits): Promise<string | object> {
  const pre = (req as IncomingMessage & { body?: unknown }).body;
  if (typeof pre === 'string') return Promise.resolve(pre);
  if (Buffer.isBuffer(pre)) return Promise.resolve(pre.toString('utf8'));
  if (typeof pre === 'object' && pre !== null && Object.keys(pre).length > 0) return Promise.resolve(pre);
  const tooBig = (): RequestError => new RequestError(`the request body is larger than the limit of ${limit} bytes`, null, 413, 'body_too_large');
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooBig());
  if (req.complete && req.readableEnded) return Promise.resolve('');

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timeout = (what: string, ms: number) => (): void =>
      finish(new RequestError(`the request body ${what} ${ms} ms (received ${size} bytes so far)`, null, 408, 'request_timeout'));
    const idle = setTimeout(timeout('stalled for more than', idleMs), idleMs);
    const total = setTimeout(timeout('did not arrive within', totalMs), totalMs);
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) return finish(tooBig());
      chunks.push(chunk);
      idle.refresh();
    };
    const onEnd = (): void => finish(null);
    const onGone = (): void => finish(new AbortError('tensorloom: the client closed the connection while sending the body'));
    const finish = (err: Error | null): void => {
      clearTimeout(idle);
      clearTimeout(total);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onClose);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const onClose = (): void => {
      if (!req.complete) onGone();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onClose);
  });
}
