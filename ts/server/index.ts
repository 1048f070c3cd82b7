/** Serving: one model, many concurrent requests, continuous batching, an OpenAI-compatible HTTP handler. */
export { createServer, type ServeHandler, type ServeOptions } from './http.js';
export { loadingHandler } from './loading.js';
export { Scheduler, type ChoiceResult, type GenerateOptions, type GenerateResult, type SchedulerOptions, type SchedulerStats } from './scheduler.js';
export { AbortError, QueueFullError, RequestError, UnavailableError } from './errors.js';
export type { BatchEngine, BatchRow, EngineLoadOptions, EngineModule, LoadedEngine, ModelInfo, SamplingParams, ServeTokenizer, TokenSampler } from './engine.js';
export { ChatTemplate } from './chat-template.js';
export { createLimitedServer, type HttpLimits } from './limits.js';
