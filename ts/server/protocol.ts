/** Messages between the main thread (scheduler.ts) and the serving worker (worker.ts). */
import type { EngineLoadOptions, ModelInfo } from './engine.js';
import type { ErrorPayload } from './errors.js';
import type { LoopEvent, LoopRequest } from './batch-loop.js';

export interface WorkerInit {
  /** URL of a module exporting `loadEngine`; absent = the built-in model engine. */
  engineModule?: string;
  load: EngineLoadOptions;
  prefillChunk: number;
}

export interface LoopStats {
  slots: number;
  slotsBusy: number;
  waiting: number;
}

export type ToWorker =
  | { type: 'submit'; id: number; request: LoopRequest }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-failed'; error: ErrorPayload }
  | { type: 'events'; events: LoopEvent[]; stats: LoopStats }
  | { type: 'closed' };
