/** Public types of the generation API (shared by the in-thread engine, the worker and the proxy). */
import type { TemplatedText } from '../chat/types.js';
import type { GrammarOptions } from '../grammar/compile.js';
import type { TokenTable } from '../grammar/token-mask.js';
import type { TokenLogprob } from './logprobs.js';
import type { SamplingOptions } from './sampler.js';

export type { TokenLogprob, TopLogprob } from './logprobs.js';
export type { SamplingOptions } from './sampler.js';

/**
 * What generation needs from a tokenizer (a structural subset of the tokenizers' `Tokenizer`):
 * encoding with or without the vocabulary's BOS, special ids, and an incremental decoder that
 * only ever returns complete UTF-8 text.
 */
export interface GenerationTokenizer {
  readonly vocabSize: number;
  readonly specialIds: Readonly<{ bos?: number; eos?: number }>;
  encode(text: string, options?: { addSpecialTokens?: boolean; parseSpecial?: boolean; literalSpans?: ReadonlyArray<readonly [number, number]> }): ArrayLike<number>;
  createStreamDecoder(options?: { skipSpecialTokens?: boolean }): { push(id: number): string; flush(): string };
  /** Every token's decoded bytes, for grammar-constrained sampling (absent: grammars are refused). */
  tokenTable?(): TokenTable;
}

export interface GenerateOptions extends SamplingOptions, GrammarOptions {
  /** Most tokens to generate. Default 256 (generation also ends at EOS, a stop string or a full context). */
  maxTokens?: number;
  /** Generation ends before the first occurrence of any of these; the stop string is not returned. */
  stop?: string | readonly string[];
  /** Aborting rejects with an AbortError (the text so far is on the error as `partial`). */
  signal?: AbortSignal;
  /** Keep going past EOS tokens (benchmarks). Default false. */
  ignoreEos?: boolean;
  /** Prepend the BOS token to a text prompt. Default true when the tokenizer has one. */
  addBos?: boolean;
  /** Callback form of streaming: called with each UTF-8-safe text chunk as it is produced. */
  onText?: (chunk: string) => void;
  /**
   * Beam search with this many beams (> 1; ts/generate/beam-search.ts, Hugging Face's rules)
   * instead of sampling: deterministic, so it takes no sampling option, grammar, stop string or
   * streaming. Default 1 (no beam search).
   */
  numBeams?: number;
  /** Beam search: hypotheses are scored sumLogprob / length^lengthPenalty. Default 1. */
  lengthPenalty?: number;
  /** Beam search: when to stop once numBeams hypotheses have ended (true, false or 'never'). Default false. */
  earlyStopping?: boolean | 'never';
  /**
   * Report each generated token's log-probability in `result.logprobs`: the log-softmax of the
   * model's logits, before penalties, logit bias, grammar masking and temperature (llama-server's
   * and OpenAI's convention; see ts/generate/logprobs.ts). Default false.
   */
  logprobs?: boolean;
  /** With `logprobs`: also this many most likely tokens at each position, in [0, 20]. Default 0. */
  topLogprobs?: number;
}

export type FinishReason = 'stop' | 'length';

export interface GenerateUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens whose KV entries were reused from the previous call (shared prefix). */
  cachedPromptTokens: number;
}

export interface GenerateTimings {
  /** Forward pass over the new prompt tokens. */
  prefillMs: number;
  /** Everything after prefill: sampling, decode forwards, detokenizing. */
  decodeMs: number;
  totalMs: number;
  /** Prompt tokens actually run (not reused from the cache) per second. */
  prefillTokensPerSecond: number;
  /** Decode forward passes (one per generated token after the first) per second. */
  decodeTokensPerSecond: number;
}

export interface GenerateResult {
  text: string;
  /** Generated token ids (EOS not included). */
  tokens: number[];
  /** 'stop': EOS or a stop string; 'length': maxTokens or the context filled up. */
  finishReason: FinishReason;
  /** The stop string that ended generation, if one did. */
  stopString: string | null;
  usage: GenerateUsage;
  timings: GenerateTimings;
  /** With `logprobs: true`: one entry per generated token (same order as `tokens`). */
  logprobs?: TokenLogprob[];
}

/** Text, token ids, or a rendered chat template (its control-token spellings become control tokens). */
export type Prompt = string | readonly number[] | TemplatedText;
