/**
 * Loads an embedding model (an encoder from the architecture table) and its tokenizer on the
 * current thread: the embedding worker calls this, and so does `loadEmbeddingModel(path, { worker: false })`.
 */
import { getBackend, type BackendName } from '../backend/index.js';
import { openModelFile } from '../formats/model-file.js';
import type { Pooling } from '../models/config.js';
import { buildEncoder } from '../models/registry.js';
import { tokenizerFromSource } from '../tokenizers/load.js';
import { Embedder } from './embedder.js';

export interface LoadEmbeddingModelOptions {
  /** Tokenizer file; default: the one in or next to the model file. */
  tokenizer?: string;
  /** Threads for the native kernels. Default: physical cores. */
  threads?: number;
  backend?: BackendName;
  /** Most tokens in one packed forward pass (texts are grouped up to this). Default 2048. */
  maxBatchTokens?: number;
  /** Run the model in a worker thread (default true), so embedding never blocks the event loop. */
  worker?: boolean;
}

export interface EmbeddingModelInfo {
  path: string;
  architecture: string;
  /** Width of the embeddings. */
  dimensions: number;
  /** Longest text in tokens. */
  contextLength: number;
  /** What the file declares (null: it does not say; embed() then needs a pooling). */
  pooling: Pooling | null;
  /** The model has a classification head and rank pooling: rank() works. */
  reranker: boolean;
  loadMs: number;
}

export function loadEmbeddingLocal(path: string, options: Omit<LoadEmbeddingModelOptions, 'worker'> = {}): { embedder: Embedder; info: EmbeddingModelInfo; close(): void } {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('tensorloom: loadEmbeddingModel needs a model path');
  const t0 = performance.now();
  const backend = getBackend(options.backend);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 0) throw new RangeError(`tensorloom: threads must be an integer ≥ 0, got ${options.threads}`);
    backend.setThreads(options.threads);
  }
  const src = openModelFile(path, options.tokenizer !== undefined ? { tokenizer: options.tokenizer } : {});
  try {
    const encoder = buildEncoder(src, backend, options.maxBatchTokens !== undefined ? { maxRows: options.maxBatchTokens } : {});
    if (src.tokenizer.kind === 'none') throw new Error(`tensorloom: no tokenizer found for ${path}; pass { tokenizer: PATH }`);
    const tokenizer = tokenizerFromSource(src.tokenizer, encoder.config.vocabSize);
    const c = encoder.config;
    const info: EmbeddingModelInfo = {
      path,
      architecture: c.architecture,
      dimensions: c.dim,
      contextLength: Math.min(c.contextLength, encoder.maxRows),
      pooling: encoder.spec.pooling,
      reranker: encoder.spec.pooling === 'rank',
      loadMs: performance.now() - t0,
    };
    return { embedder: new Embedder(encoder, tokenizer), info, close: () => src.close() };
  } catch (err) {
    src.close();
    throw err;
  }
}
