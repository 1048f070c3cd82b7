import type { BackendInfo } from '../backend/types.js';
import type { ModelChatInfo } from '../chat/model-template.js';
import type { TransformerConfig } from '../models/config.js';
import type { ModelFormat } from '../formats/model-file.js';

/** What a loaded model reports about itself. */
export interface ModelInfo {
  path: string;
  format: ModelFormat;
  config: TransformerConfig;
  /** KV cache capacity in tokens. */
  contextLength: number;
  kvCache: 'f32' | 'f16';
  backend: BackendInfo;
  tokenizer: { path: string | null; vocabSize: number; bosId: number | null; eosIds: readonly number[] };
  /** The chat template the files carry (null when none), the BOS/EOS texts it prints, the control-token spellings. */
  chat: ModelChatInfo;
  /** Milliseconds spent opening the files and building the model. */
  loadMs: number;
  /**
   * Present for encoder-decoder models (T5 family): the prompt is the source the encoder reads
   * (at most maxSourceTokens), and `contextLength` is the decoder's.
   */
  encoderDecoder?: { encoderLayers: number; decoderLayers: number; decoderStartTokenId: number; maxSourceTokens: number };
}
