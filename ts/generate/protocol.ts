/**
 * Messages between the main-thread Model proxy and the worker that holds the model.
 * Abort requests travel through a SharedArrayBuffer (`control`), because the worker's loop is
 * synchronous and never reads messages while it generates.
 */
import type { TemplatedText } from '../chat/types.js';
import type { WireError } from '../errors/registry.js';
import type { EngineOptions } from './engine.js';
import type { ModelInfo } from './info.js';
import type { GenerateResult, Prompt } from './types.js';
import type { LoadModelOptions } from './load-options.js';
import type { EmbedInput, EmbedOptions } from '../embed/embedder.js';
import type { LoadPhaseProgress } from './load-progress.js';

/** control[ABORT_SLOT] = id of the generation to abort (0 = none). */
export const ABORT_SLOT = 0;
export const CONTROL_INTS = 2;

export interface WorkerInit {
  path: string;
  options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'>;
  control: SharedArrayBuffer;
  /** Post 'progress' messages while loading (the caller gave onProgress). */
  progress?: boolean;
}

export type ToWorker =
  | { type: 'generate'; id: number; prompt: Prompt; options: EngineOptions; stream: boolean }
  | { type: 'encode'; id: number; text: string | TemplatedText; addBos: boolean }
  | { type: 'embed'; id: number; input: EmbedInput | EmbedInput[]; options: EmbedOptions }
  | { type: 'rank'; id: number; groups: { query: string; documents: string[] }[]; truncate: boolean }
  | { type: 'dispose' };

export type { WireError } from '../errors/registry.js';

export type FromWorker =
  | { type: 'progress'; progress: LoadPhaseProgress }
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-error'; error: WireError }
  | { type: 'text'; id: number; text: string }
  | { type: 'done'; id: number; result: GenerateResult }
  | { type: 'encoded'; id: number; tokens: number[] }
  | { type: 'embedded'; id: number; vectors: Float32Array[]; tokens: number; counts: number[] }
  | { type: 'ranked'; id: number; groups: { scores: number[]; tokens: number }[] }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'disposed' };

/** Errors keep their class across the worker (an AbortError its `partial`): see ts/errors/registry.ts. */
export { errorToWire as toWire, errorFromWire as fromWire } from '../errors/registry.js';
