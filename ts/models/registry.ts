/**
 * From a model file to a runnable Transformer through the architecture table (./architectures.ts).
 */
import type { Backend } from '../backend/types.js';
import type { ModelFile } from '../formats/model-file.js';
import { resolveModel } from './architectures.js';
import type { TransformerConfig } from './config.js';
import { Encoder, type EncoderOptions } from './encoder.js';
import { Transformer, type TransformerOptions } from './transformer.js';
import type { TransformerWeights } from './weights.js';

export { ARCHITECTURES, SUPPORTED_ARCHITECTURES, UnsupportedArchitectureError, architectureOf, resolveModel, type ResolvedModel } from './architectures.js';

/** Our config for a model file; throws UnsupportedArchitectureError for anything we cannot run. */
export function modelConfig(mf: ModelFile): TransformerConfig {
  return resolveModel(mf).config;
}

/** Config and weights (views into the file where possible). */
export function describeModel(mf: ModelFile): { config: TransformerConfig; weights: TransformerWeights } {
  const { architecture, config, file } = resolveModel(mf);
  return { config, weights: architecture.weights(file, config) };
}

export function buildTransformer(mf: ModelFile, backend: Backend, options: TransformerOptions = {}): Transformer {
  const { config, weights } = describeModel(mf);
  return new Transformer(backend, config, weights, options);
}

/** An embedding model (a table entry with config.encoder: BERT family) ready to run. */
export function buildEncoder(mf: ModelFile, backend: Backend, options: EncoderOptions = {}): Encoder {
  const { architecture, config, file } = resolveModel(mf);
  if (!config.encoder || !architecture.encoderWeights) {
    throw new Error(`tensorloom: ${mf.path}: '${config.architecture}' is a generative model, not an embedding model (no pooling/encoder)`);
  }
  return new Encoder(backend, config, architecture.encoderWeights(file, config), options);
}
