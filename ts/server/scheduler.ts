/**
 * The scheduler as the main thread sees it: one loaded model in a worker thread, many
 * concurrent `generate` / `stream` calls. Calls are admitted while fewer than
 * `parallel + maxQueued` are outstanding (else QueueFullError, nothing queued); the worker runs
 * them with continuous batching (batch-loop.ts). An AbortSignal settles the call at once and
 * tells the worker to drop the sequence before its next step, freeing the KV-cache slot.
 */
import '../dispose-symbols.js';
import type { Worker } from 'node:worker_threads';
import { isTemplatedText, type TemplatedText } from '../chat/types.js';
import type { TokenLogprob } from '../generate/logprobs.js';
import { validateGenerateOptions } from '../generate/options.js';
import { bundledEntry, esmBundled } from '../bundle-root.js';
import { createWorker, SERVER_WORKER_LIMITS } from '../generate/worker-exec-argv.js';
import type { FinishReason, LoopEvent, LoopRequest } from './batch-loop.js';
import type { SamplingOptions } from '../generate/sampler.js';
import type { ModelInfo, SamplingParams } from './engine.js';
import { AbortError, QueueFullError, UnavailableError, errorFromPayload } from './errors.js';
import type { FromWorker, LoopStats, ToWorker, TokenizeCall, TokenizeReply, WorkerInit } from './protocol.js';

/** Text, token ids, or a rendered chat template (ts/chat: its control-token spellings become tokens). */
export type ServePrompt = string | number[] | TemplatedText;

export interface SchedulerOptions {
  /** Model file or directory. */
  model: string;
  /** Tokenizer file, when the model file has none. */
  tokenizer?: string;
  /** Sequences decoded together (KV-cache slots). Default 4. */
  parallel?: number;
  /** Requests that may wait for a slot beyond the running ones. Default 64. */
  maxQueued?: number;
  /** Positions per sequence. Default: the model's context, reduced to fit kvBudgetBytes. */
  contextLength?: number;
  /** Upper bound on the KV cache of all slots together, in bytes. */
  kvBudgetBytes?: number;
  /** Native threads for the forward pass. */
  threads?: number;
  /** Most prompt tokens fed per step across all sequences (chunked prefill). Default 64. */
  prefillChunk?: number;
  /**
   * Prompt caching: a request resumes after the longest prefix of its prompt that a free slot's
   * KV cache still holds from the sequence that ran there last (a shared system prompt, a chat's
   * earlier turns), where the model's cache can go back there; a prefix of a tenth of the prompt
   * or less takes the least recently used slot instead. Default true.
   */
  promptCache?: boolean;
  /** A module exporting `loadEngine` (see engine.ts), to serve something other than our models. */
  engineModule?: string | URL;
  engineOptions?: Record<string, unknown>;
}

/** The sampling options are the generation loop's (ts/generate/sampler.ts), minus its penalty window. */
export interface GenerateOptions extends Omit<SamplingOptions, 'penaltyLastN'> {
  /** Tokens to generate at most; null or absent = until EOS, a stop string or the context end. */
  maxTokens?: number | null;
  stop?: string | string[];
  signal?: AbortSignal;
  /** For a text prompt: prepend BOS (default true). */
  addBos?: boolean;
  /** Don't stop at EOS (fixed-length benchmarks). */
  ignoreEos?: boolean;
  /**
   * Added to the logits of these token ids before sampling (OpenAI's logit_bias, bias in [-100, 100]);
   * -100 bans the token outright, 100 all but forces it.
   */
  logitBias?: Record<number, number>;
  /** GBNF the output must match (see ts/grammar; jsonSchemaToGrammar converts a JSON Schema). */
  grammar?: string;
  /** Called whenever generation releases more text (UTF-8 complete, stop strings held back); with n > 1, choice 0's text. */
  onText?: (text: string) => void;
  /**
   * Choices to generate from the prompt (OpenAI's `n`, at most the number of slots): the prompt runs
   * once and its KV prefix is copied into n slots; choice i samples with `seed + i`. Default 1.
   */
  n?: number;
  /** Report each token's log-probability (the model's log-softmax, see ts/generate/logprobs.ts) in `logprobs`. */
  logprobs?: boolean;
  /** With `logprobs`: this many most likely alternatives per token, in [0, 20]. */
  topLogprobs?: number;
}

/** One of the n choices of a request. */
export interface ChoiceResult {
  index: number;
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  /** With `logprobs: true`: one entry per token of `tokens`. */
  logprobs?: TokenLogprob[];
}

export interface GenerateResult {
  /** Choice 0's text, tokens, finish reason and logprobs (the whole answer when n = 1). */
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  logprobs?: TokenLogprob[];
  /** Every choice, in index order (one when n = 1). */
  choices: ChoiceResult[];
  /**
   * Prompt tokens counted once; completion tokens summed over the choices. `cachedPromptTokens`:
   * the prompt tokens choice 0's slot already held from an earlier request (prompt caching), so
   * not run again (OpenAI's `prompt_tokens_details.cached_tokens`).
   */
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; cachedPromptTokens: number };
  timings: {
    /** Submission to first generated token. */
    firstTokenMs: number;
    totalMs: number;
  };
}

export interface SchedulerStats extends LoopStats {
  /** Calls submitted and not yet settled. */
  outstanding: number;
  maxQueued: number;
  draining: boolean;
}

/** Internal hooks the HTTP layer uses on top of GenerateOptions. */
export interface SubmitHooks {
  onAccepted?: (promptTokens: number) => void;
  /** Every token of every choice as it is sampled (`text` may be ''), then a choice's held-back text at its end (no logprob). */
  onToken?: (choice: number, text: string, logprob: TokenLogprob | undefined) => void;
}

interface ChoiceState {
  tokens: number[];
  text: string;
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason | null;
  completionTokens: number;
}

interface Call {
  onText: ((text: string) => void) | undefined;
  onAccepted: ((promptTokens: number) => void) | undefined;
  onToken: SubmitHooks['onToken'];
  resolve: (r: GenerateResult) => void;
  reject: (e: Error) => void;
  choices: ChoiceState[];
  /** Choices not finished yet. */
  open: number;
  t0: number;
  firstTokenMs: number;
  /** From choice 0's `done`. */
  cachedPromptTokens: number;
  detach: () => void;
}

export class Scheduler implements AsyncDisposable {
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private stats_: LoopStats;
  private draining = false;
  private dead: Error | null = null;
  private closed = false;
  /** Moving average of call duration, for Retry-After. */
  private avgCallMs = 1000;
  private drainWaiters: (() => void)[] = [];
  /** /tokenize and /detokenize round trips waiting for the worker. */
  private readonly tokenizeCalls = new Map<number, { resolve: (r: TokenizeReply) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly worker: Worker,
    readonly info: ModelInfo,
    private readonly maxQueued: number,
  ) {
    this.stats_ = { slots: info.slots, slotsBusy: 0, waiting: 0, promptTokensRun: 0 };
    worker.on('message', (m: FromWorker) => {
      if (m.type === 'events') {
        this.stats_ = m.stats;
        for (const e of m.events) this.route(e);
      } else if (m.type === 'tokenized') {
        this.tokenizeCalls.get(m.id)?.resolve(m);
        this.tokenizeCalls.delete(m.id);
      }
    });
    worker.on('error', (err) => this.fail(new Error(`tensorloom: the serving worker failed: ${err.message}`)));
    worker.on('exit', (code) => this.fail(new Error(`tensorloom: the serving worker exited (code ${code})`)));
  }

  /** Starts the worker and loads the model; resolves when it can serve. */
  static async load(opts: SchedulerOptions): Promise<Scheduler> {
    const parallel = opts.parallel ?? 4;
    const maxQueued = opts.maxQueued ?? 64;
    if (!Number.isInteger(parallel) || parallel < 1 || parallel > 1024) {
      throw new RangeError(`tensorloom: parallel must be an integer in [1, 1024], got ${parallel}`);
    }
    const prefillChunk = opts.prefillChunk ?? 64;
    if (!Number.isInteger(prefillChunk) || prefillChunk < 1) throw new RangeError(`tensorloom: prefillChunk must be an integer ≥ 1, got ${prefillChunk}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`tensorloom: maxQueued must be an integer ≥ 0, got ${maxQueued}`);
    if (opts.promptCache !== undefined && typeof opts.promptCache !== 'boolean') throw new TypeError(`tensorloom: promptCache must be true or false, got ${String(opts.promptCache)}`);
    const init: WorkerInit = {
      ...(opts.engineModule !== undefined ? { engineModule: String(opts.engineModule) } : {}),
      load: {
        model: opts.model,
        slots: parallel,
        maxTokensPerStep: Math.max(prefillChunk, parallel),
        ...(opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {}),
        ...(opts.contextLength !== undefined ? { contextLength: opts.contextLength } : {}),
        ...(opts.kvBudgetBytes !== undefined ? { kvBudgetBytes: opts.kvBudgetBytes } : {}),
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        ...(opts.engineOptions !== undefined ? { engineOptions: opts.engineOptions } : {}),
      },
      prefillChunk,
      promptCache: opts.promptCache ?? true,
    };
    const worker = startWorker(init);
    const info = await new Promise<ModelInfo>((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        if (m.type === 'ready') done(() => resolve(m.info));
        else if (m.type === 'load-failed') done(() => reject(new Error(m.error.message)));
      };
      const onError = (err: Error): void => done(() => reject(new Error(`tensorloom: the serving worker failed to start: ${err.message}`)));
      const onExit = (code: number): void => done(() => reject(new Error(`tensorloom: the serving worker exited while loading (code ${code})`)));
      const done = (f: () => void): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        f();
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    return new Scheduler(worker, info, maxQueued);
  }

  stats(): SchedulerStats {
    return { ...this.stats_, outstanding: this.calls.size, maxQueued: this.maxQueued, draining: this.draining };
  }

  /** Generates a completion of `prompt` (text, or token ids). */
  generate(prompt: ServePrompt, opts: GenerateOptions = {}): Promise<GenerateResult> {
    return this.submit(prompt, opts);
  }

  /** Streams the completion of `prompt` as text chunks; leaving the loop early aborts it. */
  stream(prompt: ServePrompt, opts: GenerateOptions = {}): AsyncIterableIterator<string> {
    let invalid: Error | null = null;
    try {
      validateGenerateOptions(opts, 'scheduler');
      if ((opts.n ?? 1) > 1) throw new RangeError('tensorloom: stream() yields one text; for n > 1 choices use generate() (result.choices) or submit() with an onToken hook');
    } catch (err) {
      invalid = err as Error;
    }
    const chunks: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    let failure: Error | null = null;
    const local = new AbortController();
    const signal = !invalid && opts.signal ? AbortSignal.any([opts.signal, local.signal]) : local.signal;
    const onText = invalid ? undefined : opts.onText;
    (invalid ? Promise.reject(invalid) : this.submit(prompt, {
      ...opts,
      signal,
      onText: (text) => {
        onText?.(text);
        chunks.push(text);
        wake?.();
      },
    })).then(
      () => {
        finished = true;
        wake?.();
      },
      (err: Error) => {
        failure = err;
        finished = true;
        wake?.();
      },
    );
    const it: AsyncIterableIterator<string> = {
      next: async () => {
        for (;;) {
          if (chunks.length > 0) return { value: chunks.shift()!, done: false };
          if (failure) throw failure;
          if (finished) return { value: undefined, done: true };
          await new Promise<void>((r) => (wake = r));
          wake = null;
        }
      },
      return: async () => {
        if (!finished) local.abort();
        finished = true;
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** The common path of generate/stream and the HTTP layer. */
  submit(prompt: ServePrompt, opts: GenerateOptions, hooks: SubmitHooks = {}): Promise<GenerateResult> {
    try {
      validateGenerateOptions(opts, 'scheduler');
    } catch (err) {
      return Promise.reject(err as Error);
    }
    if (this.dead) return Promise.reject(this.dead);
    if (this.draining) return Promise.reject(new UnavailableError('tensorloom: the server is shutting down and takes no new requests'));
    if (opts.signal?.aborted) return Promise.reject(new AbortError('tensorloom: the generation was aborted', { cause: opts.signal.reason }));
    const capacity = this.info.slots + this.maxQueued;
    if (this.calls.size >= capacity) {
      const queued = Math.max(0, this.calls.size - this.info.slots);
      const waitMs = (this.avgCallMs * (queued + 1)) / this.info.slots;
      return Promise.reject(new QueueFullError(queued, this.maxQueued, Math.min(60, Math.max(1, Math.ceil(waitMs / 1000)))));
    }
    let request: LoopRequest;
    try {
      request = toLoopRequest(prompt, opts);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    const id = this.nextId++;
    return new Promise<GenerateResult>((resolve, reject) => {
      const signal = opts.signal;
      const onAbort = (): void => {
        if (!this.calls.has(id)) return;
        this.send({ type: 'cancel', id });
        this.settle(id);
        reject(new AbortError('tensorloom: the generation was aborted', { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const n = request.n ?? 1;
      this.calls.set(id, {
        onText: opts.onText,
        onAccepted: hooks.onAccepted,
        onToken: hooks.onToken,
        resolve,
        reject,
        choices: Array.from({ length: n }, () => ({ tokens: [], text: '', logprobs: request.topLogprobs !== undefined ? [] : null, finishReason: null, completionTokens: 0 })),
        open: n,
        t0: performance.now(),
        firstTokenMs: 0,
        cachedPromptTokens: 0,
        detach: () => signal?.removeEventListener('abort', onAbort),
      });
      this.send({ type: 'submit', id, request });
    });
  }

  /** Runs the model's tokenizer in the worker (between two batch steps): the HTTP /tokenize and /detokenize. */
  tokenizeCall(call: TokenizeCall extends infer C ? (C extends TokenizeCall ? Omit<C, 'id'> : never) : never): Promise<TokenizeReply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.tokenizeCalls.set(id, { resolve, reject });
      this.send({ ...call, id } as TokenizeCall);
    });
  }

  /** Stops taking new calls and resolves when every outstanding one has settled. */
  drain(): Promise<void> {
    this.draining = true;
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** Drains (unless `force`: then outstanding calls fail) and stops the worker. */
  async close(opts: { force?: boolean } = {}): Promise<void> {
    if (opts.force) this.fail(new UnavailableError('tensorloom: the scheduler was closed'));
    else await this.drain();
    if (this.closed) return;
    this.closed = true;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ type: 'shutdown' } satisfies ToWorker);
    this.dead ??= new UnavailableError('tensorloom: the scheduler is closed');
    const timer = setTimeout(() => void this.worker.terminate(), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** `await using scheduler = await Scheduler.load(…)`: close() (draining) at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** One event to its call. A callback that throws (onText, onAccepted) fails that call only: nothing escapes the message listener. */
  private route(e: LoopEvent): void {
    try {
      this.routeEvent(e);
    } catch (err) {
      const call = this.calls.get(e.id);
      if (!call) return;
      this.send({ type: 'cancel', id: e.id });
      this.settle(e.id);
      call.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private routeEvent(e: LoopEvent): void {
    const call = this.calls.get(e.id);
    if (!call) return; // aborted meanwhile
    switch (e.kind) {
      case 'accepted':
        call.onAccepted?.(e.promptTokens);
        break;
      case 'rejected':
      case 'failed':
        this.settle(e.id);
        call.reject(errorFromPayload(e.error));
        break;
      case 'token': {
        const index = e.choice ?? 0;
        const c = call.choices[index]!;
        if (call.firstTokenMs === 0) call.firstTokenMs = performance.now() - call.t0;
        c.tokens.push(e.token);
        if (e.logprob) c.logprobs?.push(e.logprob);
        if (e.text) {
          c.text += e.text;
          if (index === 0) call.onText?.(e.text);
        }
        call.onToken?.(index, e.text, e.logprob);
        break;
      }
      case 'done': {
        const index = e.choice ?? 0;
        const c = call.choices[index]!;
        if (e.text) {
          c.text += e.text;
          if (index === 0) call.onText?.(e.text);
          call.onToken?.(index, e.text, undefined);
        }
        c.finishReason = e.finishReason;
        c.completionTokens = e.completionTokens;
        if (index === 0) call.cachedPromptTokens = e.cachedPromptTokens;
        if (--call.open > 0) break;
        const totalMs = performance.now() - call.t0;
        this.avgCallMs = 0.9 * this.avgCallMs + 0.1 * totalMs;
        this.settle(e.id);
        const choices: ChoiceResult[] = call.choices.map((ch, i) => ({
          index: i,
          text: ch.text,
          tokens: ch.tokens,
          finishReason: ch.finishReason!,
          ...(ch.logprobs ? { logprobs: ch.logprobs } : {}),
        }));
        const completionTokens = call.choices.reduce((sum, ch) => sum + ch.completionTokens, 0);
        const { index: _first, ...first } = choices[0]!;
        call.resolve({
          ...first,
          choices,
          usage: { promptTokens: e.promptTokens, completionTokens, totalTokens: e.promptTokens + completionTokens, cachedPromptTokens: call.cachedPromptTokens },
          timings: { firstTokenMs: call.firstTokenMs || totalMs, totalMs },
        });
        break;
      }
    }
  }

  private settle(id: number): void {
    this.calls.get(id)?.detach();
    this.calls.delete(id);
    if (this.calls.size === 0 && this.drainWaiters.length) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const [id, answer] of [...this.tokenizeCalls]) {
      this.tokenizeCalls.delete(id);
      answer.reject(err);
    }
    for (const [id, call] of [...this.calls]) {
      this.settle(id);
      call.reject(err);
    }
  }

  private send(m: ToWorker): void {
    if (!this.dead) this.worker.postMessage(m);
  }
}

function toLoopRequest(prompt: ServePrompt, options: GenerateOptions): LoopRequest {
  const o = validateGenerateOptions<GenerateOptions>(options, 'scheduler');
  const sampling: SamplingParams = {
    temperature: o.temperature ?? 1,
    topK: o.topK ?? 0,
    topP: o.topP ?? 1,
    minP: o.minP ?? 0,
    repetitionPenalty: o.repetitionPenalty ?? 1,
    presencePenalty: o.presencePenalty ?? 0,
    frequencyPenalty: o.frequencyPenalty ?? 0,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
  const maxTokens = o.maxTokens ?? null;
  if (maxTokens !== null && maxTokens < 1) {
    throw new RangeError(`tensorloom: maxTokens must be a positive integer, got ${maxTokens}`);
  }
  if (typeof prompt !== 'string' && !Array.isArray(prompt) && !isTemplatedText(prompt)) {
    throw new TypeError('tensorloom: the prompt must be a string, an array of token ids or a rendered chat template');
  }
  const stop = o.stop === undefined ? [] : Array.isArray(o.stop) ? o.stop : [o.stop];
  if (o.grammar !== undefined && typeof o.grammar !== 'string') throw new TypeError('tensorloom: grammar must be a GBNF string');
  if (o.topLogprobs !== undefined && o.topLogprobs > 0 && !o.logprobs) throw new TypeError('tensorloom: topLogprobs needs logprobs: true');
  return {
    prompt,
    addBos: o.addBos ?? true,
    maxTokens,
    sampling,
    stop: stop.filter((s) => s.length > 0),
    ignoreEos: o.ignoreEos ?? false,
    ...(o.grammar !== undefined ? { grammar: o.grammar } : {}),
    ...(o.logitBias !== undefined ? { logitBias: biasPairs(o.logitBias) } : {}),
    ...(o.n !== undefined && o.n !== 1 ? { n: o.n } : {}),
    ...(o.logprobs ? { topLogprobs: o.topLogprobs ?? 0 } : {}),
  };
}

function biasPairs(bias: Record<number, number>): [number, number][] {
  return Object.entries(bias).map(([k, b]) => {
    const id = Number(k);
    if (!Number.isInteger(id) || id < 0 || typeof b !== 'number' || !(b >= -100 && b <= 100)) {
      throw new RangeError(`tensorloom: logitBias maps token ids to numbers in [-100, 100]; got ${k}: ${String(b)}`);
    }
    return [id, b];
  });
}

/**
 * Starts the worker file next to this one: worker.js (ESM build; server/worker.js from the
 * dist/esm/index.js bundle), server-worker.cjs (CJS bundle),
 * or worker.ts when running from source (tests, tsx), through tsx's loader registered inside the
 * worker (loader flags in execArgv don't reach worker threads on Node 20).
 */
function startWorker(init: WorkerInit): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const entry = JSON.stringify(new URL('./worker.ts', here).href);
    const boot = `require('tsx/cjs/api').register(); import('tsx/esm/api').then((m) => { m.register(); return import(${entry}); });`;
    return createWorker(boot, { eval: true, workerData: init, resourceLimits: SERVER_WORKER_LIMITS });
  }
  const file = esmBundled ? bundledEntry('server/worker.js') : new URL(here.endsWith('.cjs') ? './server-worker.cjs' : './worker.js', here);
  return createWorker(file, { workerData: init, resourceLimits: SERVER_WORKER_LIMITS });
}
