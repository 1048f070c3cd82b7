/**
 * The contract between the serving loop and a model. A `BatchEngine` runs one forward pass over
 * several sequences at once, each at its own position in its own KV-cache slot; the loop
 * (batch-loop.ts) decides which sequences take part in each step. Anything that implements these
 * interfaces can be served: the default engine (model-engine.ts) wraps our Llama/GPT-2 layers,
 * and the tests use a tiny deterministic engine.
 */
import type { TemplatedText } from '../chat/types.js';
import type { ResolvedSampling } from '../generate/sampler.js';
import type { TokenTable } from '../grammar/token-mask.js';

/** One sequence's share of a forward step. */
export interface BatchRow {
  /** KV-cache slot of the sequence, in [0, engine.slots). */
  slot: number;
  /** Absolute position of tokens[0]; the slot must already hold exactly `pos` positions. */
  pos: number;
  /** The tokens to run: 1 for a decode step, up to a prefill chunk for a prompt. */
  tokens: Int32Array;
  /** Whether the logits of the last token are wanted (false for non-final prefill chunks). */
  wantLogits: boolean;
}

export interface BatchEngine {
  readonly vocabSize: number;
  /** Positions each slot holds (the per-sequence context length). */
  readonly contextLength: number;
  /** Number of KV-cache slots: sequences that can be in flight at once. */
  readonly slots: number;
  /**
   * Runs every row in one pass: the token-parallel ops (norms, Linear layers, MLP, LM head)
   * see all rows' tokens as one matrix, attention runs per row against its own slot.
   * Returns the logits of the rows with `wantLogits`, in row order, as `[n, vocabSize]`;
   * the array may be reused by the next call.
   */
  forward(rows: readonly BatchRow[]): Float32Array;
  /**
   * Makes slot `to` hold the first `positions` positions of slot `from` (and whatever per-sequence
   * state goes with them), so n choices of one prompt share its prefill. Optional: without it each
   * choice runs the prompt itself.
   */
  copySlot?(from: number, to: number, positions: number): void;
  /**
   * Prompt caching: prepares `slot` to continue after the first `n` positions its cache still holds
   * from the sequence that ran there last (the loop checked that the new prompt starts with those
   * tokens), and returns the position it resumes at: `n`, or less (0: from the start) where the
   * cache cannot go back that far (a sliding-window ring that no longer holds the window before
   * `n`, a recurrent state that cannot be cut back). Optional: without it every prompt runs whole.
   */
  resumeAt?(slot: number, n: number): number;
  /**
   * Set by an encoder-decoder engine (seq2seq-serve-engine.ts): a sequence's prompt is the source,
   * at most `maxSource` tokens, and at most `maxTarget` tokens are generated; the loop checks both
   * at submission (contextLength is then their sum) and does not prime the text stream with the source.
   */
  readonly encoderDecoder?: { maxSource: number; maxTarget: number };
  /** Frees native memory. */
  dispose(): void;
}

/** What the loop needs from a tokenizer (a structural subset of the generation tokenizer). */
export interface ServeTokenizer {
  /**
   * Token ids of `text`; `addBos` prepends the model's BOS token when it has one. A rendered chat
   * template (TemplatedText) gets its control-token spellings parsed outside its literal spans.
   */
  encode(text: string | TemplatedText, addBos: boolean): number[];
  /** An incremental decoder that only ever returns complete UTF-8 text (special tokens skipped). */
  createStreamDecoder(): { push(id: number): string; flush(): string };
  /** Token ids that end generation. */
  readonly eosIds: readonly number[];
  /** Every token's decoded bytes, for grammar-constrained sampling (absent: grammar requests are refused). */
  tokenTable?(): TokenTable;
}

/**
 * Sampling parameters of one request: the generation sampler's resolved options (OpenAI names in
 * camelCase, plus llama.cpp's extras), with the seed optional and the penalty window left to the engine.
 */
export type SamplingParams = Omit<ResolvedSampling, 'penaltyLastN' | 'seed'> & { seed?: number };

/** Picks the next token from one row of logits (which it may modify); `history[0, length)` holds prompt + generated ids. */
export type TokenSampler = (logits: Float32Array, history: Int32Array, length: number) => number;

/** Facts about the loaded model that the HTTP layer reports or uses. */
export interface ModelInfo {
  /** The id reported by /v1/models (by default the file's base name). */
  id: string;
  architecture: string;
  vocabSize: number;
  contextLength: number;
  slots: number;
  /** Jinja chat template from the model files, if any. */
  chatTemplate: string | null;
  /** Texts of the BOS / EOS tokens, which chat templates print. */
  bosText?: string;
  eosText?: string;
  /** Spellings of the control tokens, so a chat template's markers become tokens (absent: none are parsed). */
  controlTokens?: string[];
  /** Bytes of KV cache reserved for all slots. */
  kvCacheBytes: number;
  /** Present for an encoder-decoder (T5): completions only, the prompt is the source. */
  encoderDecoder?: { maxSourceTokens: number; maxTargetTokens: number };
}

/** Everything a loaded engine module hands to the loop. */
export interface LoadedEngine {
  engine: BatchEngine;
  tokenizer: ServeTokenizer;
  info: ModelInfo;
  /** The sampler of the request that now owns `slot` (engines keep one per slot: no allocation per request). */
  makeSampler(params: SamplingParams, slot: number): TokenSampler;
}

/** Options every engine module receives (plus its own, passed through `engineOptions`). */
export interface EngineLoadOptions {
  /** Model file or directory. */
  model: string;
  /** Tokenizer file, when the model file carries none. */
  tokenizer?: string;
  /** Sequences in flight at once (KV-cache slots). */
  slots: number;
  /** Positions per slot; default: the model's context length, reduced to fit `kvBudgetBytes`. */
  contextLength?: number;
  /** Upper bound on KV-cache bytes for all slots together. */
  kvBudgetBytes?: number;
  /** Most token rows the loop puts in one step (decode rows + prompt chunks). */
  maxTokensPerStep: number;
  threads?: number;
  /** Extra options for a custom engine module. */
  engineOptions?: Record<string, unknown>;
}

/**
 * A module the serving worker imports by URL: it must export `loadEngine`. The default is
 * ./model-engine.js; tests pass their own.
 */
export interface EngineModule {
  loadEngine(opts: EngineLoadOptions): Promise<LoadedEngine> | LoadedEngine;
}
