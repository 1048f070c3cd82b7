/**
 * From a model file to a runnable Transformer through the architecture table (./architectures.ts).
 */
import type { Backend } from '../backend/types.js';
import type { ModelFile } from '../formats/model-file.js';
import { resolveModel } from './architectures.js';
import type { Pooling, TransformerConfig } from './config.js';
import { poolingFromGGUF, poolingFromHF } from './bert.js';
import type { EncoderSpec } from './config.js';
import { Encoder, type EncoderOptions } from './encoder.js';
import { linear, type EncoderWeights } from './weights.js';
import { Transformer, type TransformerOptions } from './transformer.js';
import { EncoderDecoder, type EncoderDecoderOptions } from './encoder-decoder.js';
import { t5Weights } from './t5.js';
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

/** The pooling a model file declares (GGUF `<arch>.pooling_type`, sentence-transformers' 1_Pooling); null when it does not say. */
export function declaredPooling(mf: ModelFile): Pooling | null {
  const { config, file } = resolveModel(mf);
  if (config.encoder) return config.encoder.pooling;
  return file.gguf ? poolingFromGGUF(file) : poolingFromHF(file.path);
}

/**
 * An embedding model ready to run: an encoder entry of the table (config.encoder: BERT family), or
 * a decoder whose file declares a pooling (GGUF `<arch>.pooling_type`, sentence-transformers'
 * 1_Pooling): decoder embedders such as Qwen3-Embedding run causal, pre-norm, through the same
 * Encoder forward pass.
 */
export function buildEncoder(mf: ModelFile, backend: Backend, options: EncoderOptions = {}): Encoder {
  const { architecture, config, file } = resolveModel(mf);
  if (config.encoder && architecture.encoderWeights) return new Encoder(backend, config, architecture.encoderWeights(file, config), options);
  const pooling = file.gguf ? poolingFromGGUF(file) : poolingFromHF(file.path);
  if (pooling === null || pooling === 'none') {
    throw new Error(`tensorloom: ${mf.path}: '${config.architecture}' is a generative model, not an embedding model (its file declares no pooling: ${file.gguf ? `${file.architecture}.pooling_type` : '1_Pooling/config.json'})`);
  }
  let classifier: EncoderWeights['classifier'] = null;
  if (pooling === 'rank') {
    // llama.cpp ranks with a decoder only for qwen3 (Qwen3-Reranker): last token → cls.output → softmax
    if (config.architecture !== 'qwen3') throw new Error(`tensorloom: ${mf.path}: rank pooling on '${config.architecture}' decoders is not supported (llama.cpp defines it for qwen3 only)`);
    if (!file.has('cls.output.weight')) throw new Error(`tensorloom: ${mf.path}: a qwen3 reranker needs the tensor cls.output.weight (the label rows of the LM head), and the file has none`);
    const out = linear(file, 'cls.output');
    if (out.weight.rows < 2) throw new Error(`tensorloom: ${mf.path}: cls.output.weight has ${out.weight.rows} row; qwen3 rank pooling takes a softmax over its rows (e.g. yes/no), which needs at least 2`);
    classifier = { dense: null, out };
  }
  const w = architecture.weights(file, config);
  const layers = w.layers.map((l, i) => {
    if (!('q' in l)) throw new Error(`tensorloom: ${mf.path}: layer ${i} of '${config.architecture}' is not softmax attention; embeddings from it are not supported`);
    return l;
  });
  const encoder: EncoderSpec = { causal: true, postNorm: false, tokenTypes: 0, pooling, classifierLabels: [], positionOffset: 0, ...(pooling === 'rank' ? { decoderRank: true } : {}) };
  const weights: EncoderWeights = {
    tokenEmbedding: w.tokenEmbedding, positionEmbedding: w.positionEmbedding, tokenTypeEmbedding: null, embeddingNorm: null,
    layers, finalNorm: w.finalNorm, classifier,
  };
  return new Encoder(backend, { ...config, encoder }, weights, options);
}

/** An encoder-decoder (T5 family: config.seq2seq) ready to run: encode a source, then decode from it. */
export function buildEncoderDecoder(mf: ModelFile, backend: Backend, options: EncoderDecoderOptions = {}): EncoderDecoder {
  const { config, file } = resolveModel(mf);
  if (!config.seq2seq) throw new Error(`tensorloom: ${mf.path}: '${config.architecture}' is not an encoder-decoder model`);
  return new EncoderDecoder(backend, config, t5Weights(file, config), options);
}
