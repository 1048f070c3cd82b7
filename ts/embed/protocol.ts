/** Messages between the EmbeddingModel proxy and its worker (abort through a SharedArrayBuffer slot). */
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
  | { type: 'load-error'; error: { name: string; message: string } }
  | { type: 'embedded'; id: number; vectors: Float32Array[]; tokens: number; counts: number[] }
  | { type: 'ranked'; id: number; scores: number[]; tokens: number }
  | { type: 'error'; id: number; error: { name: string; message: string } }
  | { type: 'disposed' };

export function wireError(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}
