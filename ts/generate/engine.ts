/**
 * The generation loop, run synchronously on whichever thread holds the model (normally the
 * worker): encode → prefill (reusing the KV entries of the longest prefix shared with the previous
 * call) → sample / forward one token at a time → UTF-8-safe text chunks, until EOS, a stop
 * string, maxTokens, a full context or an abort.
 */
import type { Transformer } from '../models/transformer.js';
import { resolveSampling, Sampler } from './sampler.js';
import { StopMatcher } from './stop-matcher.js';
import type { GenerateOptions, GenerateResult, GenerationTokenizer, Prompt } from './types.js';

/** Options the engine takes: the public ones minus what only makes sense across threads. */
export type EngineOptions = Omit<GenerateOptions, 'signal' | 'onText'>;

export interface EngineHooks {
  /** Called with each text chunk. */
  onText?: (chunk: string) => void;
  /** Polled once per token; true ends generation with an AbortError. */
  aborted?: () => boolean;
}

export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(
    message: string,
    /** What had been generated before the abort. */
    readonly partial?: { text: string; tokens: number[] },
  ) {
    super(message);
  }
}

export class Engine {
  private readonly sampler: Sampler;
  /** Tokens whose K/V are in the cache, in order: history[0 .. model.cache.length). */
  private readonly history: Int32Array;
  private readonly one = new Int32Array(1);
  /** Tokens that end generation: the model file's EOS (and EOT) and the tokenizer's. */
  readonly eosIds: readonly number[];

  constructor(
    readonly model: Transformer,
    readonly tokenizer: GenerationTokenizer,
  ) {
    const V = model.config.vocabSize;
    const eos = new Set(model.config.eosTokenIds);
    if (tokenizer.specialIds.eos !== undefined) eos.add(tokenizer.specialIds.eos);
    this.eosIds = [...eos];
    if (tokenizer.vocabSize !== V) {
      throw new RangeError(`tensorloom: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${V}; they do not belong together`);
    }
    this.sampler = new Sampler(V, (x) => model.backend.argmax(x));
    this.history = new Int32Array(model.contextLength);
  }

  /** Prompt → token ids (BOS + text, as the tokenizer encodes it). An empty prompt is just BOS. */
  encode(prompt: Prompt, addBos?: boolean): number[] {
    const V = this.model.config.vocabSize;
    let ids: number[];
    if (typeof prompt === 'string') {
      const bos = this.tokenizer.specialIds.bos ?? this.model.config.bosTokenId ?? undefined;
      if (prompt.length === 0) ids = bos !== undefined && addBos !== false ? [bos] : [];
      else ids = Array.from(this.tokenizer.encode(prompt, { addSpecialTokens: addBos ?? true }));
    } else if (Array.isArray(prompt)) {
      ids = prompt.slice();
    } else {
      throw new TypeError(`tensorloom: prompt must be a string or an array of token ids, got ${typeof prompt}`);
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`tensorloom: prompt token ${id} is outside the vocabulary [0, ${V})`);
    }
    if (ids.length === 0) throw new RangeError('tensorloom: the prompt is empty and the tokenizer has no BOS token to start from');
    return ids;
  }

  generate(prompt: Prompt, options: EngineOptions = {}, hooks: EngineHooks = {}): GenerateResult {
    const t0 = performance.now();
    const maxTokens = options.maxTokens ?? 256;
    if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`tensorloom: maxTokens must be an integer ≥ 0, got ${maxTokens}`);
    const stop = typeof options.stop === 'string' ? [options.stop] : (options.stop ?? []);
    if (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string')) throw new TypeError('tensorloom: stop must be a string or an array of strings');
    const sampling = resolveSampling(options);
    const ids = this.encode(prompt, options.addBos);
    const model = this.model;
    const ctx = model.contextLength;
    if (ids.length > ctx) {
      throw new RangeError(`tensorloom: the prompt has ${ids.length} tokens but the context holds ${ctx}; shorten the prompt or load the model with a larger contextLength`);
    }

    // Reuse the longest cached prefix; the last prompt token always runs, for its logits.
    const history = this.history;
    let reuse = 0;
    const cached = model.cache.length;
    while (reuse < cached && reuse < ids.length - 1 && history[reuse] === ids[reuse]) reuse++;
    for (let i = reuse; i < ids.length; i++) history[i] = ids[i]!;
    let length = ids.length;

    const aborted = hooks.aborted ?? (() => false);
    const eos = options.ignoreEos ? [] : this.eosIds;
    const text = new StopMatcher(stop);
    // Primed with the prompt so that SentencePiece keeps the leading space of a continuation
    // (it only drops the space of the very first piece of a text); special tokens are skipped.
    const decoder = this.tokenizer.createStreamDecoder({ skipSpecialTokens: true });
    for (const id of ids) decoder.push(id);
    const tokens: number[] = [];
    let out = '';
    const emit = (s: string): void => {
      if (!s) return;
      out += s;
      hooks.onText?.(s);
    };
    const abort = (): never => {
      throw new AbortError('tensorloom: generation was aborted', { text: out, tokens: tokens.slice() });
    };

    if (aborted()) abort();
    const tPrefill = performance.now();
    let logits = model.forward(history.subarray(reuse, length), reuse);
    const prefillMs = performance.now() - tPrefill;

    this.sampler.reset(sampling);
    let finishReason: GenerateResult['finishReason'] = 'length';
    let decodeSteps = 0;
    const tDecode = performance.now();
    for (let i = 0; i < maxTokens; i++) {
      if (aborted()) abort();
      const id = this.sampler.sample(logits, history, length);
      if (eos.includes(id)) {
        finishReason = 'stop';
        break;
      }
      tokens.push(id);
      emit(text.push(decoder.push(id)));
      if (text.stoppedBy !== null) {
        finishReason = 'stop';
        break;
      }
      if (i + 1 === maxTokens || length >= ctx) break; // no room or no need to run this token
      history[length] = id;
      this.one[0] = id;
      logits = model.forward(this.one, length);
      length++;
      decodeSteps++;
    }
    emit(text.finish(decoder.flush()));
    const tEnd = performance.now();
    const decodeMs = tEnd - tDecode;
    const ran = ids.length - reuse;
    return {
      text: out,
      tokens,
      finishReason,
      stopString: text.stoppedBy,
      usage: { promptTokens: ids.length, completionTokens: tokens.length, totalTokens: ids.length + tokens.length, cachedPromptTokens: reuse },
      timings: {
        prefillMs,
        decodeMs,
        totalMs: tEnd - t0,
        prefillTokensPerSecond: prefillMs > 0 ? (ran * 1000) / prefillMs : 0,
        decodeTokensPerSecond: decodeMs > 0 ? (decodeSteps * 1000) / decodeMs : 0,
      },
    };
  }

  /** Forgets the cached prefix (the next call runs its whole prompt). */
  resetCache(): void {
    this.model.cache.length = 0;
  }
}
