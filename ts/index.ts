/**
 * tensorloom: fast transformer inference for Node.js.
 * @packageDocumentation
 */
export { getBackend, backendInfo, setIsa, setThreads } from './backend/index.js';
export type * from './backend/types.js';
export { WEIGHT_TYPES, ACTIVATION_TYPES, DTYPES, weightType, typeByGgmlId, rowBytes } from './backend/weight-types.js';
export type { WeightType, ActivationType, ActivationBlockType } from './backend/weight-types.js';
// ── models and generation (ts/layers, ts/models, ts/generate) ──
export * from './layers/index.js';
export { Transformer, buildTransformer, describeModel, modelConfig, resolveModel, architectureOf, ARCHITECTURES, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError } from './models/index.js';
export { convertModel, modelToGGUF } from './models/convert.js';
// ── embeddings and reranking (ts/embed, encoders in ts/models) ──
export { loadEmbeddingModel, EmbeddingModel, Embedder, EmbedError, type EmbedCallOptions, type RankOptions, type EmbedInput, type EmbedOptions, type EmbedResult, type EmbeddingModelInfo, type LoadEmbeddingModelOptions } from './embed/index.js';
export { Encoder, buildEncoder, type EncoderOptions, type Pooling } from './models/index.js';
export { EncoderDecoder, buildEncoderDecoder, type EncoderDecoderOptions, type EncodedSource, type DecoderState, type Seq2SeqSpec } from './models/index.js';
export type { TransformerOptions, TransformerConfig, ModelFamily, Architecture, TransformerWeights, LayerWeights, LinearWeights, NormWeights } from './models/index.js';
// generate's AbortError subclasses the server's, exported below: `instanceof AbortError` covers both
export { loadModel, Model, CapabilityError, Engine, Sampler, resolveSampling, Rng, StopMatcher } from './generate/index.js';
export type {
  GenerationStream, LoadModelOptions, ModelLoadProgress, DownloadPhaseProgress, LoadPhaseProgress, ModelInfo, ModelCapabilities, EngineHooks, EngineOptions, SamplingOptions, ResolvedSampling,
  FinishReason, GenerateOptions, GenerateResult, GenerateTimings, GenerateUsage, GenerationTokenizer, Prompt, TokenLogprob, TopLogprob,
} from './generate/index.js';
// ── chat (ts/chat): templates, model.chat, ChatSession ──
export * from './chat/index.js';
// ── constrained sampling (ts/grammar): GBNF, JSON Schema → grammar ──
export * from './grammar/index.js';
export { createServer, loadingHandler, Scheduler, QueueFullError, RequestError, UnavailableError, AbortError } from './server/index.js';
export type { ServeHandler, ServeOptions, GenerateOptions as ServeGenerateOptions, GenerateResult as ServeGenerateResult, ChoiceResult as ServeChoiceResult, SchedulerOptions } from './server/index.js';
export * from './tokenizers/index.js';
export * from './hub/index.js';
export * from './formats/index.js';
export { assertCudaAvailable, cudaStatus, getCudaBackend } from './backend/cuda/index.js';
export type { CudaBackend, CudaStatus, DeviceWeights } from './backend/cuda/index.js';
