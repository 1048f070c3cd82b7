/**
 * Tokenizers: byte-level BPE (GPT-2 family), SentencePiece-style BPE (Llama, llama2.c), WordPiece
 * (BERT) and SentencePiece Unigram (T5, XLM-RoBERTa) behind one `Tokenizer` interface; `loadTokenizer(path)` detects the file format.
 */
export type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer, TokenizerFamily } from './types.js';
export { TokenType, TokenizerError, Vocab, type SpecialIds, type TokenTypeId } from './vocab.js';
export { VocabTokenizer, type VocabTokenizerConfig } from './tokenizer.js';
export { ByteLevelBPE, type ByteLevelBPEOptions } from './bpe.js';
export { SentencePieceBPE, SPIECE_SPACE, type SentencePieceBPEOptions } from './spm.js';
export { WordPiece, fromLlamaCppWordPiece, type WordPieceOptions } from './wordpiece.js';
export { Unigram, type UnigramOptions, type UnigramPreprocessor } from './unigram.js';
export { PrecompiledCharsmap } from './charsmap.js';
export { SentencePieceNormalizer, SentencePiecePreprocessor, type SentencePieceNormalizerOptions } from './spm-normalizer.js';
export { HFUnigramPipeline } from './hf-unigram-pipeline.js';
export { loadSentencePieceModel, sentencePieceModelTokenizer, parseSentencePieceModel } from './loaders/sentencepiece-model.js';
export { preTokenizerFor, preTokenizerNames, customPreTokenizer, RegexPreTokenizer } from './pretokenizers.js';
export { loadTokenizer, tokenizerFromSource } from './load.js';
export { tokenizerFromGGUFMetadata, hasGGUFTokenizer } from './loaders/gguf-metadata.js';
export { llama2cTokenizer, loadLlama2cTokenizer } from './loaders/llama2c.js';
export { loadHFTokenizer, tokenizerFromHFJson } from './loaders/huggingface.js';
export { gpt2Tokenizer, loadGPT2Files } from './loaders/gpt2.js';
export { toTokenizerJSON, saveTokenizerJSON, mergesFromScores } from './save.js';
export { trainBPE, type TrainBPEOptions, type TrainBPEResult } from './train.js';
