/**
 * `loadEmbeddingModel`: `loadModel` for a file that must embed or rank. The model object is the
 * same `Model` (ts/generate/model.ts) that generates — one handle and one worker per loaded
 * file — this only refuses, at load, a file that cannot embed.
 */
import { loadModel, Model } from '../generate/model.js';
import type { LoadModelOptions } from '../generate/load-options.js';
import { CapabilityError } from '../generate/load-local.js';

export type { EmbedCallOptions, RankOptions } from '../generate/model.js';
export type { EmbeddingModelInfo } from '../generate/info.js';

/** Options of loadEmbeddingModel: loadModel's (`maxBatchTokens` caps a packed forward pass). */
export type LoadEmbeddingModelOptions = LoadModelOptions;

/** A model that embeds (or ranks): the same class loadModel returns (kept under its old name). */
export { Model as EmbeddingModel };
type EmbeddingModel = Model;

/** Loads an embedding model or reranker (BERT family, XLM-RoBERTa, decoder embedders); refuses a generative-only model. */
export async function loadEmbeddingModel(path: string, options: LoadEmbeddingModelOptions = {}): Promise<EmbeddingModel> {
  const model = await loadModel(path, options);
  const { capabilities: can, config } = model.info;
  if (!can.embed && !can.rank) {
    await model.dispose();
    throw new CapabilityError(`tensorloom: ${path}: '${config.architecture}' is a generative model, not an embedding model (its file declares no pooling: ${model.info.format === 'gguf' ? `${config.architecture}.pooling_type` : '1_Pooling/config.json'})`);
  }
  return model;
}
