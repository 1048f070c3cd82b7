/**
 * Errors the scheduler and the HTTP layer raise. Each carries the HTTP status it maps to and an
 * OpenAI-style `code`, so the HTTP layer turns any of them into the same JSON error body.
 */

/** A request that is wrong in itself (bad field, prompt too long for the context): HTTP 400. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    message: string,
    /** The request field at fault, e.g. `max_tokens`, when there is one. */
    readonly param: string | null = null,
    readonly status = 400,
    readonly code = 'invalid_request_error',
  ) {
    super(message);
  }
}

/** The scheduler's wait queue is full: HTTP 429 with `Retry-After`. Nothing was queued. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  readonly status = 429;
  readonly code = 'queue_full';
  constructor(
    readonly queued: number,
    readonly maxQueued: number,
    /** A hint for the client: seconds until a retry is likely to be accepted. */
    readonly retryAfterSeconds: number,
  ) {
    super(`tensorloom: the request queue is full (${queued} waiting, limit ${maxQueued}); retry in about ${retryAfterSeconds} s`);
  }
}

/** The scheduler is draining or closed and takes no new work: HTTP 503. */
export class UnavailableError extends Error {
  override readonly name = 'UnavailableError';
  readonly status = 503;
  readonly code = 'unavailable';
}

/** The caller's AbortSignal fired; the sequence's KV-cache slot has been released. (ts/generate's AbortError extends it.) */
export { AbortError } from '../errors/abort-error.js';

/** What crosses the worker boundary for an error (class instances don't survive postMessage). */
export interface ErrorPayload {
  kind: 'request' | 'internal';
  message: string;
  param?: string | null;
}

export function errorFromPayload(p: ErrorPayload): Error {
  return p.kind === 'request' ? new RequestError(p.message, p.param ?? null) : new Error(p.message);
}
