/**
 * The bookkeeping every generation loop shares (the decoder Engine, ./engine.ts, and the
 * encoder-decoder Seq2SeqEngine, ./seq2seq-engine.ts): the generated tokens, their UTF-8-safe text
 * chunks through the stop-string matcher, per-token logprobs, the AbortError with the partial
 * result, and the result's usage and timings. The loops themselves (what runs the model, what is
 * sampled) stay in the engines.
 */
import { AbortError, type EngineHooks } from './engine.js';
import { LogprobCapture, TokenPieces, withPieces } from './logprobs.js';
import { StopMatcher } from './stop-matcher.js';
import type { GenerateOptions, GenerateResult, GenerationTokenizer, TokenLogprob } from './types.js';

/** What computing logprobs keeps between calls (made once per engine, on the first call that asks). */
export class LogprobTools {
  readonly capture: LogprobCapture;
  readonly pieces: TokenPieces;

  constructor(tokenizer: GenerationTokenizer, vocabSize: number) {
    this.capture = new LogprobCapture(vocabSize);
    this.pieces = new TokenPieces({
      ...(tokenizer.tokenTable ? { tokenTable: () => tokenizer.tokenTable!() } : {}),
      createStreamDecoder: () => tokenizer.createStreamDecoder({ skipSpecialTokens: false }),
    });
  }
}

/** When the phases of a generation ran, and over how many tokens, for GenerateResult.timings. */
export interface GenerationTimes {
  /** performance.now() at the call's start. */
  t0: number;
  prefillMs: number;
  /** Tokens the prefill ran (the prompt minus a reused prefix; the source for encoder-decoders). */
  prefillTokens: number;
  /** performance.now() when decoding began. */
  tDecode: number;
  /** Tokens the decode phase ran (one per step; over all beams for beam search). */
  decodeTokens: number;
}

export class GenerationOutput {
  readonly tokens: number[] = [];
  /** The text emitted so far. */
  text = '';
  readonly logprobs: TokenLogprob[] | null;
  private readonly stop: StopMatcher;
  private readonly decoder: { push(id: number): string; flush(): string };
  private readonly topLogprobs: number;

  /**
   * `tools`: the engine's LogprobTools when options.logprobs asks for them and the loop captures
   * logits (null for beam search, which reports none); `prime`:
   * ids the stream decoder sees first without emitting them (a decoder's prompt, so that
   * SentencePiece keeps the leading space of a continuation).
   */
  constructor(
    tokenizer: GenerationTokenizer,
    options: Pick<GenerateOptions, 'stop' | 'logprobs' | 'topLogprobs'>,
    private readonly hooks: EngineHooks,
    private readonly tools: LogprobTools | null,
    prime: readonly number[] = [],
  ) {
    this.stop = new StopMatcher(typeof options.stop === 'string' ? [options.stop] : (options.stop ?? []));
    this.decoder = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    for (const id of prime) this.decoder.push(id);
    this.topLogprobs = options.topLogprobs ?? 0;
    if (!options.logprobs && this.topLogprobs > 0) throw new TypeError('tensorloom: topLogprobs needs logprobs: true');
    this.logprobs = options.logprobs && tools ? [] : null;
  }

  /** The stop string that ended the text, or null. */
  get stopString(): string | null {
    return this.stop.stoppedBy;
  }

  /** Throws the AbortError that carries what was generated so far. */
  abort(): never {
    throw new AbortError('tensorloom: generation was aborted', { text: this.text, tokens: this.tokens.slice() });
  }

  /** Keeps the model's distribution at this position for logprobs: call before the sampler edits the row. */
  capture(logits: Float32Array): void {
    if (this.logprobs) this.tools!.capture.capture(logits, this.topLogprobs);
  }

  /** A generated token (not EOS): records it (with its logprob), emits its text; true when a stop string ended the text. */
  push(id: number): boolean {
    this.tokens.push(id);
    if (this.logprobs) this.logprobs.push(withPieces(this.tools!.capture.entry(id), this.tools!.pieces));
    this.emit(this.stop.push(this.decoder.push(id)));
    return this.stop.stoppedBy !== null;
  }

  /** Emits what the stream decoder and the stop matcher still hold (call once, at the end). */
  finish(): void {
    this.emit(this.stop.finish(this.decoder.flush()));
  }

  /** The GenerateResult of this output. */
  result(finishReason: GenerateResult['finishReason'], usage: { promptTokens: number; cachedPromptTokens: number }, times: GenerationTimes): GenerateResult {
    const tEnd = performance.now();
    const decodeMs = tEnd - times.tDecode;
    const n = this.tokens.length;
    return {
      text: this.text,
      tokens: this.tokens,
      finishReason,
      stopString: this.stop.stoppedBy,
      usage: { promptTokens: usage.promptTokens, completionTokens: n, totalTokens: usage.promptTokens + n, cachedPromptTokens: usage.cachedPromptTokens },
      timings: {
        prefillMs: times.prefillMs,
        decodeMs,
        totalMs: tEnd - times.t0,
        prefillTokensPerSecond: times.prefillMs > 0 ? (times.prefillTokens * 1000) / times.prefillMs : 0,
        decodeTokensPerSecond: decodeMs > 0 ? (times.decodeTokens * 1000) / decodeMs : 0,
      },
      ...(this.logprobs ? { logprobs: this.logprobs } : {}),
    };
  }

  private emit(s: string): void {
    if (!s) return;
    this.text += s;
    this.hooks.onText?.(s);
  }
}
