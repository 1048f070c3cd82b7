/**
 * The generation loop of encoder-decoder models (T5 family), with the same surface as the decoder
 * Engine (./engine.ts) so that `Model`, its worker and the CLI run either: the prompt is the
 * *source* — encoded once (the encoder runs over all of it, its cross-attention K/V are kept) —
 * and the decoder starts from the model's decoder start token, then samples token by token with
 * the same Sampler, stop strings, grammar constraint, EOS handling, per-token logprobs (the
 * log-softmax of the decoder's raw logits, ./logprobs.ts) and abort polling — or, with
 * numBeams > 1, runs beam search over that one encoded source (./seq2seq-beams.ts).
 */
import { isTemplatedText } from '../chat/types.js';
import type { EncoderDecoder } from '../models/encoder-decoder.js';
import { beamSearchSync } from './beam-search.js';
import { ConstrainedSampler, grammarConstraint } from './constrained-sample.js';
import { decodeLoop } from './decode-loop.js';
import type { EngineHooks, EngineOptions } from './engine.js';
import { GenerationOutput, LogprobTools } from './generation-output.js';
import { Seq2SeqBeams } from './seq2seq-beams.js';
import { validateGenerateOptions } from './options.js';
import { resolveSampling, Sampler } from './sampler.js';
import type { GenerateResult, GenerationTokenizer, Prompt } from './types.js';

export class Seq2SeqEngine {
  private readonly sampler: Sampler;
  /** Grammar-constrained sampling, shared with the decoder Engine (./constrained-sample.ts). */
  private readonly constrained: ConstrainedSampler;
  /** The decoder's tokens (start token, then the generated ones): the penalties' history. */
  private readonly history: Int32Array;
  /** Made on the first call that asks for logprobs (as the decoder Engine's). */
  private logprobTools: LogprobTools | undefined;
  readonly eosIds: readonly number[];

  constructor(
    readonly model: EncoderDecoder,
    readonly tokenizer: GenerationTokenizer,
    stopIds: readonly number[] = [],
  ) {
    const V = model.config.vocabSize;
    if (!model.hasDecoder) throw new Error(`tensorloom: ${model.config.architecture} is an encoder-only T5 (no decoder): it cannot generate text`);
    if (tokenizer.vocabSize !== V) {
      throw new RangeError(`tensorloom: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${V}; they do not belong together`);
    }
    const eos = new Set([...model.config.eosTokenIds, ...stopIds]);
    if (tokenizer.specialIds.eos !== undefined) eos.add(tokenizer.specialIds.eos);
    this.eosIds = [...eos];
    this.sampler = new Sampler(V, (x) => model.backend.argmax(x), model.backend);
    this.constrained = new ConstrainedSampler(this.sampler, V);
    this.history = new Int32Array(model.maxTarget);
  }

  /** Source text → the encoder's input ids (the text, then </s>, as T5's tokenizer adds it; never a BOS). */
  encode(prompt: Prompt, _addBos?: boolean): number[] {
    const V = this.model.config.vocabSize;
    let ids: number[];
    if (typeof prompt === 'string') {
      if (prompt.length === 0) throw new RangeError('tensorloom: the source text is empty: an encoder-decoder needs something to encode');
      ids = Array.from(this.tokenizer.encode(prompt, { addSpecialTokens: true }));
    } else if (Array.isArray(prompt)) {
      ids = prompt.slice();
    } else if (isTemplatedText(prompt)) {
      throw new TypeError('tensorloom: chat templates are for decoder models; give an encoder-decoder its source as text or token ids');
    } else {
      throw new TypeError(`tensorloom: the source must be a string or an array of token ids, got ${typeof prompt}`);
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`tensorloom: source token ${id} is outside the vocabulary [0, ${V})`);
    }
    if (ids.length === 0) throw new RangeError('tensorloom: the source is empty (no token ids): an encoder-decoder needs something to encode');
    if (ids.length > this.model.maxSource) {
      throw new RangeError(`tensorloom: the source has ${ids.length} tokens but the encoder's context is ${this.model.maxSource}; shorten the source`);
    }
    return ids;
  }

  generate(prompt: Prompt, options: EngineOptions = {}, hooks: EngineHooks = {}): GenerateResult {
    const t0 = performance.now();
    validateGenerateOptions(options, 'engine');
    const maxTokens = options.maxTokens ?? 256;
    const sampling = resolveSampling(options);
    const constraint = grammarConstraint(options, this.tokenizer, this.eosIds);
    if (options.addBos !== undefined) throw new TypeError('tensorloom: addBos is a decoder-only option: an encoder-decoder source gets no BOS (T5 appends </s>)');
    const ids = this.encode(prompt);
    const model = this.model;
    const aborted = hooks.aborted ?? (() => false);
    const eos = options.ignoreEos ? [] : this.eosIds;
    const numBeams = options.numBeams ?? 1;
    const useBeams = numBeams > 1 && maxTokens > 0;
    const tools = options.logprobs && !useBeams ? (this.logprobTools ??= new LogprobTools(this.tokenizer, model.config.vocabSize)) : null;
    const out = new GenerationOutput(this.tokenizer, options, hooks, tools);

    if (aborted()) out.abort();
    if (useBeams) return this.beamSearch(ids, numBeams, Math.min(maxTokens, model.maxTarget), eos, options, hooks, out, t0);
    // "prefill": the encoder over the source (cross K/V kept in `state`) and the first decoder step
    const tPrefill = performance.now();
    const state = model.start(model.encode(Int32Array.from(ids)));
    const history = this.history;
    history[0] = model.spec.decoderStartTokenId;
    const logits = model.decode(state, history.subarray(0, 1));
    const prefillMs = performance.now() - tPrefill;

    const { finishReason, tDecode, decodeTokens } = decodeLoop({
      sampler: this.sampler, constrained: this.constrained, sampling, constraint, out, aborted, eos, maxTokens,
      history, length: 1, limit: model.maxTarget, logits,
      step: (at) => model.decode(state, history.subarray(at, at + 1)),
    });
    return out.result(finishReason, { promptTokens: ids.length, cachedPromptTokens: 0 }, { t0, prefillMs, prefillTokens: ids.length, tDecode, decodeTokens });
  }

  /**
   * Beam search (the options were checked by validateGenerateOptions, which refuses sampling,
   * penalties, stop strings and grammars with numBeams > 1): the source is encoded once and every
   * beam attends to its cross K/V. `maxTokens` ≤ maxTarget: a beam's last token is never run.
   * The best beam's text is emitted at the end (it is known only then).
   */
  private beamSearch(ids: number[], numBeams: number, maxTokens: number, eos: readonly number[], options: EngineOptions, hooks: EngineHooks, out: GenerationOutput, t0: number): GenerateResult {
    const tPrefill = performance.now();
    const source = this.model.encode(Int32Array.from(ids));
    const prefillMs = performance.now() - tPrefill;
    const tDecode = performance.now();
    const beams = new Seq2SeqBeams(this.model, source, maxTokens);
    const search = beamSearchSync(beams, {
      numBeams,
      maxTokens,
      eosIds: eos,
      lengthPenalty: options.lengthPenalty ?? 1,
      earlyStopping: options.earlyStopping ?? false,
      aborted: hooks.aborted ?? (() => false),
    });
    const best = search.hypotheses[0];
    for (const id of best?.tokens ?? []) out.push(id);
    out.finish();
    // (an abort keeps the best beam so far as the partial result)
    if (search.aborted) out.abort();
    // beams.forwards: decoder tokens run over all beams (the start token included)
    return out.result(best?.eos !== null && best?.eos !== undefined ? 'stop' : 'length', { promptTokens: ids.length, cachedPromptTokens: 0 }, { t0, prefillMs, prefillTokens: ids.length, tDecode, decodeTokens: beams.forwards });
  }

  /** Nothing is cached across calls (each source is encoded afresh). */
  resetCache(): void {}
}
