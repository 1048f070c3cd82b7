/**
 * The error every cancelled operation rejects with (generate, stream, chat, embed, loadModel, the
 * scheduler): `name` 'AbortError' and `code` 'ABORT_ERR' as Node's own AbortError, and `cause` =
 * the signal's `reason` (Node's `events.once` and `timers/promises` convention: always an
 * AbortError, the reason kept as its cause, whatever the reason is).
 */
export class AbortError extends Error {
  override readonly name: string = 'AbortError';
  readonly code: string = 'ABORT_ERR';
  constructor(message = 'tensorloom: the operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The AbortError for a signal that fired: its reason becomes the cause. */
export function abortErrorFor(signal: AbortSignal, message?: string): AbortError {
  return new AbortError(message, { cause: signal.reason });
}

/**
 * An AbortError raised where the signal is not at hand (inside a model worker, which only sees an
 * abort flag) gets the signal's reason as its cause on the way back to the caller.
 */
export function withAbortCause<E>(err: E, signal: AbortSignal | undefined): E {
  if (err instanceof AbortError && signal?.aborted && err.cause === undefined) {
    Object.defineProperty(err, 'cause', { value: signal.reason, writable: true, enumerable: false, configurable: true });
  }
  return err;
}
