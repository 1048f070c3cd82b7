/** Text generation: loadModel → Model.generate / Model.stream, running in a worker thread by default. */
export { loadModel, Model, type GenerationStream, type EmbedCallOptions, type RankOptions } from './model.js';
export { CapabilityError } from './load-local.js';
export type { LoadModelOptions } from './load-options.js';
export type { ModelLoadProgress, DownloadPhaseProgress, LoadPhaseProgress } from './load-progress.js';
export type { EmbeddingModelInfo, ModelCapabilities, ModelInfo } from './info.js';
export { AbortError, Engine, type EngineHooks, type EngineOptions } from './engine.js';
export { Sampler, resolveSampling, type SamplingOptions, type ResolvedSampling } from './sampler.js';
export { Rng } from './rng.js';
export { StopMatcher } from './stop-matcher.js';
export type { FinishReason, GenerateOptions, GenerateResult, GenerateTimings, GenerateUsage, GenerationTokenizer, Prompt, TokenLogprob, TopLogprob } from './types.js';
