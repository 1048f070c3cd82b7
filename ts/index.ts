/**
 * tensorloom: fast transformer inference for Node.js.
 * @packageDocumentation
 */
export { getBackend, backendInfo, setIsa, setThreads } from './backend/index.js';
export type * from './backend/types.js';
export { Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './backend/types.js';
// ── models and generation (ts/layers, ts/models, ts/generate) ──
export * from './layers/index.js';
export { Transformer, buildTransformer, describeModel, modelConfig, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError } from './models/index.js';
export type { TransformerOptions, TransformerConfig, TransformerWeights, LayerWeights, LinearWeights, NormWeights } from './models/index.js';
// generate's AbortError subclasses the server's, exported below: `instanceof AbortError` covers both
export { loadModel, Model, Engine, Sampler, resolveSampling, Rng, StopMatcher } from './generate/index.js';
export type {
  GenerationStream, LoadModelOptions, ModelInfo, EngineHooks, EngineOptions, SamplingOptions, ResolvedSampling,
  FinishReason, GenerateOptions, GenerateResult, GenerateTimings, GenerateUsage, GenerationTokenizer, Prompt,
} from './generate/index.js';
// ── chat (ts/chat): templates, model.chat, ChatSession ──
export * from './chat/index.js';
// ── constrained sampling (ts/grammar): GBNF, JSON Schema → grammar ──
export * from './grammar/index.js';
export { createServer, loadingHandler, Scheduler, QueueFullError, RequestError, UnavailableError, AbortError } from './server/index.js';
export type { ServeHandler, ServeOptions, GenerateOptions as ServeGenerateOptions, GenerateResult as ServeGenerateResult, SchedulerOptions } from './server/index.js';
export * from './tokenizers/index.js';
export * from './formats/index.js';
export { assertCudaAvailable, cudaStatus, getCudaBackend } from './backend/cuda/index.js';
export type { CudaBackend, CudaStatus, DeviceWeights } from './backend/cuda/index.js';
