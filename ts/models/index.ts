/** Decoder-only transformer models: the architecture table and the one forward pass. */
export { Transformer, type TransformerOptions } from './transformer.js';
export type { TransformerConfig, ModelFamily, Pooling, EncoderSpec } from './config.js';
export { Encoder, type EncoderOptions } from './encoder.js';
export { EncoderDecoder, type EncoderDecoderOptions, type EncodedSource, type DecoderState } from './encoder-decoder.js';
export type { Seq2SeqSpec } from './config.js';
export type { Architecture } from './architecture.js';
export type { TransformerWeights, LayerWeights, LinearWeights, NormWeights } from './weights.js';
export { buildEncoder, buildEncoderDecoder, buildTransformer, describeModel, modelConfig, resolveModel, architectureOf, ARCHITECTURES, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError } from './registry.js';
