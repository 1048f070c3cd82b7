import type { BackendInfo } from '../backend/types.js';
import type { ModelChatInfo } from '../chat/model-template.js';
import type { Pooling, TransformerConfig } from '../models/config.js';
import type { ModelFormat } from '../formats/model-file.js';

/** What a loaded model can do: decoders generate; encoders and decoder embedders embed; rerankers rank. */
export interface ModelCapabilities {
  generate: boolean;
  embed: boolean;
  rank: boolean;
}

/** The embedding side of a model (null on ModelInfo when it cannot embed or rank). */
export interface EmbeddingModelInfo {
  /** Width of the embeddings. */
  dimensions: number;
  /** Longest text in tokens. */
  contextLength: number;
  /** What the file declares (null: it does not say; embed() then needs a pooling). */
  pooling: Pooling | null;
  /** The model has rank pooling (a classification head): rank() works. */
  reranker: boolean;
}

/** What a loaded model reports about itself. */
export interface ModelInfo {
  path: string;
  format: ModelFormat;
  config: TransformerConfig;
  /** KV cache capacity in tokens (encoders: the longest text). */
  contextLength: number;
  /** KV cache storage; null for a model loaded only to embed (no KV cache). */
  kvCache: 'f32' | 'f16' | null;
  backend: BackendInfo;
  tokenizer: { path: string | null; vocabSize: number; bosId: number | null; eosIds: readonly number[] };
  /** The chat template the files carry (null when none), the BOS/EOS texts it prints, the control-token spellings. */
  chat: ModelChatInfo;
  /** Which of generate / embed / rank this model serves. */
  capabilities: ModelCapabilities;
  /** Dimensions, context and pooling of the embedding side; null when the model cannot embed or rank. */
  embedding: EmbeddingModelInfo | null;
  /** Milliseconds spent opening the files and building the model. */
  loadMs: number;
  /**
   * Present for encoder-decoder models (T5 family): the prompt is the source the encoder reads
   * (at most maxSourceTokens), and `contextLength` is the decoder's.
   */
  encoderDecoder?: { encoderLayers: number; decoderLayers: number; decoderStartTokenId: number; maxSourceTokens: number };
}
