/** Messages between the EmbeddingModel proxy and its worker (abort through a SharedArrayBuffer slot). */
import type { WireError } from '../errors/registry.js';
import type { EmbedInput, EmbedOptions } from './embedder.js';
import type { EmbeddingModelInfo, LoadEmbeddingModelOptions } from './load-local.js';

export const ABORT_SLOT = 0;

export interface EmbedWorkerInit {
  path: string;
  options: Omit<LoadEmbeddingModelOptions, 'worker'>;
  control: SharedArrayBuffer;
}

export type ToEmbedWorker =
  | { type: 'embed'; id: number; input: EmbedInput | EmbedInput[]; options: EmbedOptions }
  | { type: 'rank'; id: number; query: string; documents: string[]; truncate: boolean }
  | { type: 'dispose' };

export type FromEmbedWorker =
  | { type: 'ready'; info: EmbeddingModelInfo }
  | { type: 'load-error'; error: WireError }
  | { type: 'embedded'; id: number; vectors: Float32Array[]; tokens: number; counts: number[] }
  | { type: 'ranked'; id: number; scores: number[]; tokens: number }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'disposed' };

/** Errors keep their class across the worker: see ts/errors/registry.ts. */
export { errorToWire as wireError, errorFromWire } from '../errors/registry.js';
