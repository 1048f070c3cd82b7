/**
 * The public model handle. By default the model lives in a worker thread and this object is a
 * thin proxy: `generate` and `stream` post a request and receive text chunks and the result by
 * message, `embed` and `rank` get vectors and scores back, so the event loop keeps running while
 * the model computes. With `{ worker: false }` the same API runs on the calling thread (each call
 * then blocks until it is done). One handle serves what the file can do (`info.capabilities`):
 * decoders generate, encoders and decoder embedders embed, rerankers rank; asking for the other
 * side is a clear error before anything is sent to the worker.
 */
import '../dispose-symbols.js';
import type { Worker } from 'node:worker_threads';
import { resolveModelSource } from '../hub/model-source.js';
import { chat, chatStream, type ChatOptions, type ChatResult, type ChatStream } from '../chat/chat.js';
import type { ChatMessage, TemplatedText } from '../chat/types.js';
import { EmbedError, type EmbedInput, type EmbedOptions, type EmbedResult } from '../embed/embedder.js';
import { abortErrorFor, withAbortCause } from '../errors/abort-error.js';
import { AbortError } from './engine.js';
import type { ModelInfo } from './info.js';
import { CapabilityError, loadLocal, type LoadedModel } from './load-local.js';
import type { LoadModelOptions } from './load-options.js';
import { downloadReporter, type LoadPhaseProgress } from './load-progress.js';
import { validateGenerateOptions } from './options.js';
import { ABORT_SLOT, CONTROL_INTS, fromWire, type FromWorker, type ToWorker } from './protocol.js';
import type { GenerateOptions, GenerateResult, Prompt } from './types.js';
import { spawnWorker } from './worker-spawn.js';

/** Text chunks as they are generated; `result` resolves with the full result at the end. */
export interface GenerationStream extends AsyncIterable<string> {
  readonly result: Promise<GenerateResult>;
}

/** embed() options: pooling, normalize, truncate, dimensions, and an AbortSignal. */
export interface EmbedCallOptions extends EmbedOptions {
  signal?: AbortSignal;
}

export interface RankOptions {
  /** Cut query + document pairs longer than the context instead of failing. Default false. */
  truncate?: boolean;
  signal?: AbortSignal;
}

type RankGroup = { query: string; documents: string[] };
type EmbedRequest = { type: 'embed'; input: EmbedInput | EmbedInput[]; options: EmbedOptions } | { type: 'rank'; groups: RankGroup[]; truncate: boolean };
type RankResult = { scores: number[]; tokens: number };

/** Where the model actually runs: a worker (default) or this thread. */
interface Runner {
  run(prompt: Prompt, options: GenerateOptions, onText: ((s: string) => void) | null): Promise<GenerateResult>;
  embed(req: EmbedRequest, signal: AbortSignal | undefined): Promise<EmbedResult | RankResult[]>;
  encode(text: string | TemplatedText, addBos: boolean): Promise<number[]>;
  close(): Promise<void>;
}

export class Model implements AsyncDisposable {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    /** Architecture, hyperparameters, context length, backend, tokenizer, load time. */
    readonly info: ModelInfo,
    private readonly runner: Runner,
  ) {}

  /** @internal use loadModel */
  static async load(path: string, options: LoadModelOptions = {}): Promise<Model> {
    const { worker = true, onProgress, signal, token: _t, endpoint: _e, cacheDir: _c, offline: _o, ...rest } = options;
    if (signal?.aborted) throw abortErrorFor(signal, `tensorloom: loading ${path} was aborted`);
    if (!worker) {
      // On this thread the load runs to its end; an abort meanwhile frees the model and rejects.
      const local = await loadLocal(path, rest, onProgress);
      if (signal?.aborted) {
        local.close();
        throw abortErrorFor(signal, `tensorloom: loading ${path} was aborted`);
      }
      return new Model(local.info, inlineRunner(local));
    }
    const { info, runner } = await startWorker(path, rest, onProgress, signal);
    return new Model(info, runner);
  }

  /** Generates a continuation of `prompt` (text, or token ids). */
  generate(prompt: Prompt, options: GenerateOptions = {}): Promise<GenerateResult> {
    try {
      this.require('generate');
      validateGenerateOptions(options, 'api');
    } catch (err) {
      return Promise.reject(err as Error);
    }
    options ??= {};
    return this.enqueue(prompt, options, options.onText ?? null);
  }

  /**
   * The continuation as an async iterable of UTF-8-safe text chunks (`.result` has the rest).
   * Leaving the loop early (break, return, throw) stops the generation, as an abort would.
   */
  stream(prompt: Prompt, options: GenerateOptions = {}): GenerationStream {
    let invalid: Error | null = null;
    try {
      this.require('generate');
      validateGenerateOptions(options, 'api');
      if ((options?.numBeams ?? 1) > 1) {
        throw new RangeError('tensorloom: numBeams > 1 (beam search) cannot stream: the best beam is known only at the end; use generate()');
      }
    } catch (err) {
      invalid = err as Error;
      options = {};
    }
    options ??= {};
    const chunks: string[] = [];
    let wake: (() => void) | null = null;
    let finished = false;
    const stop = new AbortController();
    const signal = options.signal ? eitherSignal(options.signal, stop) : stop.signal;
    const onText = (s: string): void => {
      options.onText?.(s);
      chunks.push(s);
      wake?.();
    };
    const result = invalid ? Promise.reject(invalid) : this.enqueue(prompt, { ...options, signal }, onText);
    void result
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        finished = true;
        wake?.();
      });
    return {
      result,
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            while (chunks.length > 0) yield chunks.shift()!;
            if (finished) break;
            await new Promise<void>((r) => (wake = r));
            wake = null;
          }
          await result; // rethrows an abort or error after the chunks produced before it
        } finally {
          if (!finished) stop.abort(); // the consumer left early
        }
      },
    };
  }

  /**
   * Answers a conversation: renders `messages` with the model's chat template (its markers become
   * control tokens, message text stays text), generates until end of turn, returns the reply as
   * `result.message`. See ChatSession for a conversation that keeps its history.
   */
  chat(messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
    return chat(this, messages, options);
  }

  /** chat() as a stream of text chunks (`.result` has the reply). */
  chatStream(messages: readonly ChatMessage[], options: ChatOptions = {}): ChatStream {
    return chatStream(this, messages, options);
  }

  /**
   * One vector per input (a string gives an array of one), for embedding models: pooling from the
   * file by default (mean, CLS or last token), L2-normalized unless `normalize: false`; texts
   * longer than the context are an error unless `truncate: true`. All inputs of a call run in
   * packed forward passes (no per-text loop).
   */
  async embed(input: string | readonly string[], options: EmbedCallOptions = {}): Promise<Float32Array[]> {
    return (await this.embedWithUsage(input, options)).vectors;
  }

  /** embed() plus the tokens processed (inputs may also be token-id arrays). */
  embedWithUsage(input: EmbedInput | readonly EmbedInput[], options: EmbedCallOptions = {}): Promise<EmbedResult> {
    const { signal, ...rest } = options ?? {};
    return this.enqueueEmbed('embed', { type: 'embed', input: input as EmbedInput[], options: rest }, signal) as Promise<EmbedResult>;
  }

  /**
   * Relevance scores of `documents` for `query`, for rerankers (llama.cpp's `rank` pooling:
   * cross-encoders with a classification head, or Qwen3-Reranker-style decoders): the head's raw
   * logit, or label 0's log-odds for decoders, in the documents' order (a sigmoid gives the
   * probability llama.cpp reports).
   */
  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<number[]> {
    return (await this.rankWithUsage(query, documents, options)).scores;
  }

  /** rank() plus the tokens processed. */
  async rankWithUsage(query: string, documents: readonly string[], options: RankOptions = {}): Promise<RankResult> {
    return (await this.rankGroups([{ query, documents: documents as string[] }], options))[0]!;
  }

  /**
   * rank() for several queries in one call: all their pairs share the packed forward passes (the
   * server batches concurrent /v1/rerank requests this way). One result per group, in order.
   */
  rankGroups(groups: readonly { query: string; documents: readonly string[] }[], options: RankOptions = {}): Promise<RankResult[]> {
    if (!Array.isArray(groups)) return Promise.reject(new TypeError('tensorloom: rankGroups takes an array of { query, documents }'));
    const copy = groups.map((g) => ({ query: g?.query, documents: g?.documents as string[] }));
    return this.enqueueEmbed('rank', { type: 'rank', groups: copy, truncate: options?.truncate === true }, options?.signal) as Promise<RankResult[]>;
  }

  /** Token ids of a text (or a rendered chat prompt), as generate would feed them (BOS + text by default). */
  encode(text: string | TemplatedText, options: { addBos?: boolean } = {}): Promise<number[]> {
    if (this.closed) return Promise.reject(new Error('tensorloom: this model has been disposed'));
    if (options !== undefined && (typeof options !== 'object' || options === null)) return Promise.reject(new TypeError('tensorloom: encode options must be an object like { addBos: true }'));
    if (options.addBos !== undefined && typeof options.addBos !== 'boolean') return Promise.reject(new TypeError('tensorloom: addBos must be true or false'));
    return this.runner.encode(text, options.addBos ?? true);
  }

  /** Frees the model (terminates its worker); pending calls finish first. Idempotent. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.runner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  /** Throws a CapabilityError naming the model when it cannot serve `what` (see info.capabilities). */
  private require(what: 'generate' | 'embed' | 'rank'): void {
    const { capabilities: can, config, path } = this.info;
    if (what === 'embed' ? can.embed || can.rank : can[what]) return; // a reranker embeds with an explicit pooling
    const name = `${path}: '${config.architecture}'`;
    if (what === 'generate') throw new CapabilityError(`tensorloom: ${name} is an encoder; it embeds but cannot generate`);
    if (!can.embed && !can.rank) {
      throw new CapabilityError(`tensorloom: ${name} is a generative model, not an embedding model; it cannot ${what} (its file declares no pooling)`);
    }
    throw new EmbedError(`this model is not a reranker (its pooling is ${this.info.embedding?.pooling ?? 'not declared'}); rank() needs a cross-encoder with a classification head`);
  }

  private enqueueEmbed(what: 'embed' | 'rank', req: EmbedRequest, signal: AbortSignal | undefined): Promise<EmbedResult | RankResult[]> {
    try {
      this.require(what);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.schedule(signal, (s) => abortErrorFor(s, `tensorloom: the ${what === 'embed' ? 'embedding' : 'ranking'} was aborted`), () => this.runner.embed(req, signal));
  }

  private enqueue(prompt: Prompt, options: GenerateOptions, onText: ((s: string) => void) | null): Promise<GenerateResult> {
    return this.schedule(options.signal, (s) => new AbortError('tensorloom: generation was aborted', { text: '', tokens: [] }, { cause: s.reason }), () => this.runner.run(prompt, options, onText));
  }

  /**
   * Requests run one at a time, in order (the worker computes one at a time anyway). An aborted
   * signal rejects at once, without waiting for the queue; errors keep signal.reason as their cause.
   */
  private schedule<T>(signal: AbortSignal | undefined, abortError: (s: AbortSignal) => Error, run: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error('tensorloom: this model has been disposed'));
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const next = (): Promise<T> => {
      if (signal?.aborted) return Promise.reject(abortError(signal));
      return run().catch((err: unknown) => Promise.reject(withAbortCause(err, signal)));
    };
    const p = this.queue.then(next, next);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/**
 * Loads a model and its tokenizer: a GGUF, llama2.c .bin or Hugging Face directory path; an
 * `hf:owner/repo/file.gguf` / `hf:owner/repo:QUANT` reference or an https URL (downloaded into the
 * cache first, see resolveModelFile); or, with no path, the built-in stories260K toy model.
 */
export async function loadModel(path?: string, options: LoadModelOptions = {}): Promise<Model> {
  const { onProgress, signal } = options;
  if (signal?.aborted) throw abortErrorFor(signal, 'tensorloom: loadModel was aborted');
  const source = await resolveModelSource(path, { ...options, onProgress: onProgress ? downloadReporter(onProgress) : undefined }).catch((err: unknown) => {
    throw signal?.aborted ? abortErrorFor(signal, 'tensorloom: the model download was aborted') : err;
  });
  return Model.load(source.path, { ...source.options, ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) });
}

/** Aborts when `user` does or `own` is aborted (AbortSignal.any needs Node ≥ 20.3). */
function eitherSignal(user: AbortSignal, own: AbortController): AbortSignal {
  if (typeof AbortSignal.any === 'function') return AbortSignal.any([user, own.signal]);
  if (user.aborted) own.abort();
  else user.addEventListener('abort', () => own.abort(), { once: true });
  return own.signal;
}

function engineOptions(o: GenerateOptions): Omit<GenerateOptions, 'signal' | 'onText'> {
  const { signal: _s, onText: _t, ...rest } = o;
  return rest;
}

function inlineRunner(local: LoadedModel): Runner {
  return {
    async run(prompt, options, onText) {
      const signal = options.signal;
      return local.engine.generate(prompt, engineOptions(options), {
        ...(onText ? { onText } : {}),
        ...(signal ? { aborted: () => signal.aborted } : {}),
      });
    },
    async embed(req, signal) {
      const aborted = signal ? () => signal.aborted : undefined;
      const e = local.embedder;
      return req.type === 'embed' ? e.embed(req.input, req.options, aborted) : e.rankGroups(req.groups, { truncate: req.truncate }, aborted);
    },
    async encode(text, addBos) {
      return local.encode(text, addBos);
    },
    async close() {
      local.close();
    },
  };
}

async function startWorker(
  path: string,
  options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'>,
  onProgress?: (p: LoadPhaseProgress) => void,
  signal?: AbortSignal,
): Promise<{ info: ModelInfo; runner: Runner }> {
  const control = new SharedArrayBuffer(CONTROL_INTS * 4);
  const ctrl = new Int32Array(control);
  const worker: Worker = spawnWorker({ path, options, control, ...(onProgress ? { progress: true } : {}) });
  type Pending = { resolve: (v: never) => void; reject: (e: Error) => void; onText: ((s: string) => void) | null };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let dead: Error | null = null;
  let onDisposed: (() => void) | null = null;

  // Listeners are removed one by one: removeAllListeners() would also drop the Worker's own
  // 'newListener' hooks that keep its message port referenced.
  const info = await new Promise<ModelInfo>((resolve, reject) => {
    const onMessage = (m: FromWorker): void => {
      if (m.type === 'progress') {
        try {
          onProgress?.(m.progress);
        } catch (err) {
          done(() => reject(err as Error)); // a throwing callback fails the load, not the process
          void worker.terminate();
        }
      } else if (m.type === 'ready') done(() => resolve(m.info));
      else if (m.type === 'load-error') {
        done(() => reject(fromWire(m.error)));
        void worker.terminate();
      }
    };
    const onError = (err: Error): void => done(() => reject(err));
    const onExit = (code: number): void => done(() => reject(new Error(`tensorloom: the model worker exited (code ${code}) while loading ${path}`)));
    // Cancelling mid-load ends the worker: the load is synchronous there and reads no messages.
    const onAbort = (): void => {
      done(() => reject(abortErrorFor(signal!, `tensorloom: loading ${path} was aborted`)));
      void worker.terminate();
    };
    let settled = false;
    const done = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

  const failAll = (err: Error): void => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  // Nothing thrown in here may escape: an exception in a 'message' listener is uncaught and ends
  // the process. A failing onText callback rejects its own request (and stops its generation).
  worker.on('message', (m: FromWorker) => {
    try {
      onWorkerMessage(m);
    } catch (err) {
      const id = (m as { id?: unknown }).id;
      const p = typeof id === 'number' ? pending.get(id) : undefined;
      if (p) {
        pending.delete(id as number);
        Atomics.store(ctrl, ABORT_SLOT, id as number);
        p.reject(err instanceof Error ? err : new Error(String(err)));
      } else process.emitWarning(`tensorloom: a model worker message could not be handled: ${String(err)}`);
    }
  });
  const onWorkerMessage = (m: FromWorker): void => {
    switch (m.type) {
      case 'text':
        pending.get(m.id)?.onText?.(m.text);
        break;
      case 'done':
      case 'encoded':
      case 'embedded':
      case 'ranked': {
        const p = pending.get(m.id);
        pending.delete(m.id);
        const value =
          m.type === 'done' ? m.result
          : m.type === 'encoded' ? m.tokens
          : m.type === 'embedded' ? { vectors: m.vectors, tokens: m.tokens, counts: m.counts }
          : m.groups;
        p?.resolve(value as never);
        break;
      }
      case 'error': {
        const p = pending.get(m.id);
        pending.delete(m.id);
        p?.reject(fromWire(m.error));
        break;
      }
      case 'disposed':
        onDisposed?.();
        break;
      default:
        break;
    }
  };
  worker.on('error', (err) => failAll(err instanceof Error ? err : new Error(String(err))));
  worker.on('exit', (code) => failAll(new Error(`tensorloom: the model worker exited (code ${code})`)));
  worker.unref(); // an idle model does not keep the process alive

  const request = <T>(msg: ToWorker & { id: number }, onText: ((s: string) => void) | null): Promise<T> => {
    if (dead) return Promise.reject(dead);
    worker.ref();
    return new Promise<T>((resolve, reject) => {
      pending.set(msg.id, { resolve: resolve as (v: never) => void, reject, onText });
      worker.postMessage(msg);
    }).finally(() => {
      if (pending.size === 0) worker.unref();
    });
  };

  const runner: Runner = {
    run(prompt, options, onText) {
      const id = nextId++;
      const signal = options.signal;
      const onAbort = (): void => {
        Atomics.store(ctrl, ABORT_SLOT, id);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      return request<GenerateResult>({ type: 'generate', id, prompt: Array.isArray(prompt) ? [...prompt] : prompt, options: engineOptions(options), stream: onText !== null }, onText).finally(
        () => signal?.removeEventListener('abort', onAbort),
      );
    },
    embed(req, signal) {
      const id = nextId++;
      const onAbort = (): void => {
        Atomics.store(ctrl, ABORT_SLOT, id);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      return request<EmbedResult | RankResult[]>({ ...req, id }, null).finally(() => signal?.removeEventListener('abort', onAbort));
    },
    encode(text, addBos) {
      return request<number[]>({ type: 'encode', id: nextId++, text, addBos }, null);
    },
    async close() {
      if (dead) return;
      worker.ref();
      await new Promise<void>((resolve) => {
        onDisposed = resolve;
        worker.postMessage({ type: 'dispose' } satisfies ToWorker);
        setTimeout(resolve, 1000).unref();
      });
      await worker.terminate();
    },
  };
  return { info, runner };
}
