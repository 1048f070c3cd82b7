/**
 * Every failure of a model download or cache operation is a ModelFetchError whose message says
 * what to do; `code` lets a program tell them apart.
 */
export type ModelFetchErrorCode =
  | 'BAD_REFERENCE' // an hf: string or URL that cannot name a model file
  | 'NOT_FOUND' // repo or file missing (the message lists the repo's GGUF files)
  | 'NO_GGUF' // the repo has no GGUF file, or none matching the quant asked for
  | 'AMBIGUOUS' // several GGUF files match; name one
  | 'UNAUTHORIZED' // 401/403: gated or private repo
  | 'NOT_GGUF' // the download does not start with the GGUF magic
  | 'VERIFY_FAILED' // size or sha256 differs from what the server announced
  | 'DISK_FULL'
  | 'CACHE_NOT_WRITABLE'
  | 'NETWORK' // the connection failed (after retries)
  | 'HTTP' // any other HTTP status
  | 'NOT_CACHED'; // rm / offline: the entry is not in the cache

export class ModelFetchError extends Error {
  override readonly name = 'ModelFetchError';
  constructor(
    readonly code: ModelFetchErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
