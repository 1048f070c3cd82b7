/**
 * The public tokenizer contract. Every family (byte-level BPE, SentencePiece-style BPE, WordPiece,
 * SentencePiece Unigram)
 * implements it; `loadTokenizer(path)` returns one.
 */
import type { SpecialIds, Vocab } from './vocab.js';

export interface EncodeOptions {
  /**
   * Add the tokens the vocabulary asks for around the text: BOS (Llama, when `add_bos` is set),
   * EOS when `add_eos` is set, [CLS] … [SEP] for WordPiece. Default true.
   */
  addSpecialTokens?: boolean;
  /**
   * Recognise control tokens (BOS/EOS, `<|endoftext|>`, chat markers, …) spelled out in the text.
   * Default **false**: untrusted text cannot inject control tokens — a literal `<|endoftext|>` is
   * encoded as ordinary characters. Added tokens that are ordinary text (GGUF type USER_DEFINED,
   * Hugging Face added tokens with `special: false`) are always matched whole, as llama.cpp and
   * Hugging Face do. Set true only for text you built yourself (e.g. a rendered chat template).
   */
  parseSpecial?: boolean;
  /**
   * With `parseSpecial`: [start, end) ranges of `text` (UTF-16 offsets) that are data, not markup —
   * e.g. the message contents inside a rendered chat template. A control token spelled inside one
   * stays ordinary characters; everywhere else it becomes the control token.
   */
  literalSpans?: ReadonlyArray<readonly [number, number]>;
}

export interface DecodeOptions {
  /** Drop control and unknown tokens (BOS, EOS, `<|endoftext|>`, `<unk>` …). Default false. */
  skipSpecialTokens?: boolean;
}

/** Incremental decoding for streaming: text comes out only when its UTF-8 is complete. */
export interface StreamDecoder {
  /** Adds one token; returns the text that became complete (often '', never a broken character). */
  push(id: number): string;
  /** Ends the stream: returns what is left (an unfinished UTF-8 sequence becomes U+FFFD). */
  flush(): string;
}

export type TokenizerFamily = 'bpe' | 'spm' | 'wordpiece' | 'unigram';

export interface Tokenizer {
  readonly family: TokenizerFamily;
  readonly vocabSize: number;
  /** BOS, EOS, UNK, PAD, SEP, CLS, MASK ids where the vocabulary defines them. */
  readonly specialIds: Readonly<SpecialIds>;
  readonly vocab: Vocab;
  encode(text: string, options?: EncodeOptions): Uint32Array;
  /** Throws a RangeError for ids that are not integers in [0, vocabSize). */
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
  /** The token's string as stored in the vocabulary, or undefined when out of range. */
  idToToken(id: number): string | undefined;
  /** The id of a vocabulary string (lowest id when duplicated), or undefined. */
  tokenToId(token: string): number | undefined;
  /** True for control tokens (BOS/EOS/chat markers), which decoding can skip. */
  isSpecial(id: number): boolean;
}
