/** Decoder-only transformer models: the architecture table and the one forward pass. */
export { Transformer, type TransformerOptions } from './transformer.js';
export type { TransformerConfig, ModelFamily, Pooling, EncoderSpec } from './config.js';
export { Encoder, type EncoderOptions } from './encoder.js';
export type { Architecture } from './architecture.js';
export type { TransformerWeights, LayerWeights, LinearWeights, NormWeights } from './weights.js';
export { buildEncoder, buildTransformer, describeModel, modelConfig, resolveModel, architectureOf, ARCHITECTURES, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError } from './registry.js';
