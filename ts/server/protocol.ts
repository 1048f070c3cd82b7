/** Messages between the main thread (scheduler.ts) and the serving worker (worker.ts). */
import type { EngineLoadOptions, ModelInfo } from './engine.js';
import type { ErrorPayload } from './errors.js';
import type { LoopEvent, LoopRequest } from './batch-loop.js';

export interface WorkerInit {
  /** URL of a module exporting `loadEngine`; absent = the built-in model engine. */
  engineModule?: string;
  load: EngineLoadOptions;
  prefillChunk: number;
  promptCache: boolean;
}

export interface LoopStats {
  slots: number;
  slotsBusy: number;
  waiting: number;
  /** Prompt tokens run through the model so far (a prompt forked into n choices counts once). */
  promptTokensRun: number;
}

export type ToWorker =
  | { type: 'submit'; id: number; request: LoopRequest }
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' }
  | TokenizeCall;

/** /tokenize and /detokenize: the tokenizer lives in the worker, so they are a round trip (ts/server/tokenize-endpoints.ts). */
export type TokenizeCall =
  | { type: 'tokenize'; id: number; text: string; addSpecial: boolean; parseSpecial: boolean; withPieces: boolean }
  | { type: 'detokenize'; id: number; tokens: number[] };

export interface TokenizeReply {
  type: 'tokenized';
  id: number;
  tokens?: number[];
  /** Each token's text, or its bytes when they are not valid UTF-8 on their own (llama-server's convention). */
  pieces?: (string | number[])[];
  content?: string;
  /** A bad request (an id outside the vocabulary): answered with 400. */
  error?: string;
}

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'load-failed'; error: ErrorPayload }
  | { type: 'events'; events: LoopEvent[]; stats: LoopStats }
  | { type: 'closed' }
  | TokenizeReply;
