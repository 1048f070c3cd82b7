/** Decoder-only transformer models built from the layer classes. */
export { Transformer, type TransformerOptions } from './transformer.js';
export type { TransformerConfig, ModelFamily } from './config.js';
export type { TransformerWeights, LayerWeights, LinearWeights, NormWeights } from './weights.js';
export { buildTransformer, describeModel, modelConfig, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError } from './registry.js';
