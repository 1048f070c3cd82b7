/**
 * The public model handle. By default the model lives in a worker thread and this object is a
 * thin proxy: `generate` and `stream` post a request and receive text chunks and the result by
 * message, so the event loop keeps running during generation. With `{ worker: false }` the same
 * API runs on the calling thread (each call then blocks until it is done).
 */
import '../dispose-symbols.js';
import type { Worker } from 'node:worker_threads';
import { resolveModelSource } from '../hub/model-source.js';
import { chat, chatStream, type ChatOptions, type ChatResult, type ChatStream } from '../chat/chat.js';
import type { ChatMessage, TemplatedText } from '../chat/types.js';
import { abortErrorFor, withAbortCause } from '../errors/abort-error.js';
import { AbortError, type Engine } from './engine.js';
import type { ModelInfo } from './info.js';
import { loadLocal } from './load-local.js';
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

/** Where generation actually runs: a worker (default) or this thread. */
interface Runner {
  run(prompt: Prompt, options: GenerateOptions, onText: ((s: string) => void) | null): Promise<GenerateResult>;
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
      return new Model(local.info, inlineRunner(local.engine, local.close));
    }
    const { info, runner } = await startWorker(path, rest, onProgress, signal);
    return new Model(info, runner);
  }

  /** Generates a continuation of `prompt` (text, or token ids). */
  generate(prompt: Prompt, options: GenerateOptions = {}): Promise<GenerateResult> {
    try {
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
      validateGenerateOptions(options, 'api');
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

  private enqueue(prompt: Prompt, options: GenerateOptions, onText: ((s: string) => void) | null): Promise<GenerateResult> {
    if (this.closed) return Promise.reject(new Error('tensorloom: this model has been disposed'));
    const signal = options.signal;
    const aborted = (s: AbortSignal): Promise<never> => Promise.reject(new AbortError('tensorloom: generation was aborted', { text: '', tokens: [] }, { cause: s.reason }));
    if (signal?.aborted) return aborted(signal); // at once, without waiting for the queue
    const run = (): Promise<GenerateResult> => {
      if (signal?.aborted) return aborted(signal);
      return this.runner.run(prompt, options, onText).catch((err: unknown) => Promise.reject(withAbortCause(err, signal)));
    };
    const p = this.queue.then(run, run);
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

function inlineRunner(engine: Engine, close: () => void): Runner {
  return {
    async run(prompt, options, onText) {
      const signal = options.signal;
      return engine.generate(prompt, engineOptions(options), {
        ...(onText ? { onText } : {}),
        ...(signal ? { aborted: () => signal.aborted } : {}),
      });
    },
    async encode(text, addBos) {
      return engine.encode(text, addBos);
    },
    async close() {
      close();
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
      case 'encoded': {
        const p = pending.get(m.id);
        pending.delete(m.id);
        p?.resolve((m.type === 'done' ? m.result : m.tokens) as never);
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
