/** Embeddings and reranking with encoder models (BERT family): in process (worker thread) and for the server. */
export { loadEmbeddingModel, EmbeddingModel, type EmbedCallOptions, type RankOptions } from './model.js';
export { Embedder, EmbedError, type EmbedInput, type EmbedOptions, type EmbedResult } from './embedder.js';
export type { EmbeddingModelInfo, LoadEmbeddingModelOptions } from './load-local.js';
