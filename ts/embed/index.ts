/** Embeddings and reranking with encoder models (BERT family) and decoder embedders, on the same Model as generation. */
export { loadEmbeddingModel, EmbeddingModel, type EmbedCallOptions, type EmbeddingModelInfo, type LoadEmbeddingModelOptions, type RankOptions } from './model.js';
export { Embedder, EmbedError, type EmbedInput, type EmbedOptions, type EmbedResult } from './embedder.js';
