/**
 * The public embedding-model handle: `loadEmbeddingModel(path)` → `embed(input)` and
 * `rank(query, documents)`. By default the model lives in a worker thread (the event loop keeps
 * running while it computes); `{ worker: false }` runs on the calling thread. Requests queue one at
 * a time; each is internally batched (all its texts in packed forward passes).
 */
import '../dispose-symbols.js';
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../generate/worker-spawn.js';
import { abortErrorFor, withAbortCause } from '../errors/abort-error.js';
import { type EmbedInput, type EmbedOptions, type EmbedResult } from './embedder.js';
import { loadEmbeddingLocal, type EmbeddingModelInfo, type LoadEmbeddingModelOptions } from './load-local.js';
import { ABORT_SLOT, errorFromWire, type FromEmbedWorker, type ToEmbedWorker } from './protocol.js';

export interface EmbedCallOptions extends EmbedOptions {
  signal?: AbortSignal;
}

export interface RankOptions {
  truncate?: boolean;
  signal?: AbortSignal;
}

type Request = { type: 'embed'; input: EmbedInput | EmbedInput[]; options: EmbedOptions } | { type: 'rank'; query: string; documents: string[]; truncate: boolean };
type Reply = EmbedResult | { scores: number[]; tokens: number };

interface Runner {
  run(req: Request, signal: AbortSignal | undefined): Promise<Reply>;
  close(): Promise<void>;
}

export class EmbeddingModel implements AsyncDisposable {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly info: EmbeddingModelInfo,
    private readonly runner: Runner,
  ) {}

  /** @internal use loadEmbeddingModel */
  static async load(path: string, options: LoadEmbeddingModelOptions = {}): Promise<EmbeddingModel> {
    const { worker = true, ...rest } = options;
    if (!worker) {
      const local = loadEmbeddingLocal(path, rest);
      return new EmbeddingModel(local.info, {
        async run(req, signal) {
          const aborted = signal ? () => signal.aborted : undefined;
          return req.type === 'embed' ? local.embedder.embed(req.input, req.options, aborted) : local.embedder.rank(req.query, req.documents, { truncate: req.truncate }, aborted);
        },
        async close() {
          local.close();
        },
      });
    }
    const { info, runner } = await startWorker(path, rest);
    return new EmbeddingModel(info, runner);
  }

  /**
   * One vector per input (a string gives an array of one). Pooling defaults to the file's;
   * vectors are L2-normalized unless `normalize: false`.
   */
  async embed(input: string | readonly string[], options: EmbedCallOptions = {}): Promise<Float32Array[]> {
    return (await this.embedWithUsage(input, options)).vectors;
  }

  /** embed() plus the number of tokens processed (inputs may also be token-id arrays). */
  embedWithUsage(input: EmbedInput | readonly EmbedInput[], options: EmbedCallOptions = {}): Promise<EmbedResult> {
    const { signal, ...rest } = options;
    return this.enqueue({ type: 'embed', input: input as EmbedInput[], options: rest }, signal) as Promise<EmbedResult>;
  }

  /** Relevance scores (raw logits of the classification head) of each document for the query. */
  async rank(query: string, documents: readonly string[], options: RankOptions = {}): Promise<number[]> {
    const r = (await this.enqueue({ type: 'rank', query, documents: documents as string[], truncate: options.truncate === true }, options.signal)) as { scores: number[] };
    return r.scores;
  }

  /** rank() plus the number of tokens processed. */
  rankWithUsage(query: string, documents: readonly string[], options: RankOptions = {}): Promise<{ scores: number[]; tokens: number }> {
    return this.enqueue({ type: 'rank', query, documents: documents as string[], truncate: options.truncate === true }, options.signal) as Promise<{ scores: number[]; tokens: number }>;
  }

  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.runner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }

  private enqueue(req: Request, signal: AbortSignal | undefined): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error('tensorloom: this model has been disposed'));
    if (signal?.aborted) return Promise.reject(abortErrorFor(signal, 'tensorloom: the embedding was aborted'));
    const run = (): Promise<Reply> => {
      if (signal?.aborted) return Promise.reject(abortErrorFor(signal, 'tensorloom: the embedding was aborted'));
      return this.runner.run(req, signal).catch((err: unknown) => Promise.reject(withAbortCause(err, signal)));
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}

/** Loads an embedding model or reranker (BERT family GGUF or Hugging Face directory). */
export function loadEmbeddingModel(path: string, options: LoadEmbeddingModelOptions = {}): Promise<EmbeddingModel> {
  return EmbeddingModel.load(path, options);
}

async function startWorker(path: string, options: Omit<LoadEmbeddingModelOptions, 'worker'>): Promise<{ info: EmbeddingModelInfo; runner: Runner }> {
  const control = new SharedArrayBuffer(8);
  const ctrl = new Int32Array(control);
  const worker: Worker = spawnWorker({ path, options, control }, 'embed');
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  let onDisposed: (() => void) | null = null;
  const info = await new Promise<EmbeddingModelInfo>((resolve, reject) => {
    const onMessage = (m: FromEmbedWorker): void => {
      if (m.type === 'ready') done(() => resolve(m.info));
      else if (m.type === 'load-error') {
        done(() => reject(errorFromWire(m.error)));
        void worker.terminate();
      }
    };
    const onError = (err: Error): void => done(() => reject(err));
    const onExit = (code: number): void => done(() => reject(new Error(`tensorloom: the embedding worker exited (code ${code}) while loading ${path}`)));
    const done = (settle: () => void): void => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      settle();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
  });
  const failAll = (err: Error): void => {
    dead = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (m: FromEmbedWorker) => {
    if (m.type === 'disposed') return onDisposed?.();
    if (m.type !== 'embedded' && m.type !== 'ranked' && m.type !== 'error') return;
    const p = pending.get(m.id);
    pending.delete(m.id);
    if (pending.size === 0) worker.unref();
    if (!p) return;
    if (m.type === 'error') p.reject(errorFromWire(m.error));
    else if (m.type === 'embedded') p.resolve({ vectors: m.vectors, tokens: m.tokens, counts: m.counts });
    else p.resolve({ scores: m.scores, tokens: m.tokens });
  });
  worker.on('error', (err) => failAll(err instanceof Error ? err : new Error(String(err))));
  worker.on('exit', (code) => failAll(new Error(`tensorloom: the embedding worker exited (code ${code})`)));
  worker.unref();
  const runner: Runner = {
    run(req, signal) {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      const onAbort = (): void => void Atomics.store(ctrl, ABORT_SLOT, id);
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.ref();
      return new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ ...req, id } satisfies ToEmbedWorker);
      }).finally(() => signal?.removeEventListener('abort', onAbort));
    },
    async close() {
      if (dead) return;
      worker.ref();
      await new Promise<void>((resolve) => {
        onDisposed = resolve;
        worker.postMessage({ type: 'dispose' } satisfies ToEmbedWorker);
        setTimeout(resolve, 1000).unref();
      });
      await worker.terminate();
    },
  };
  return { info, runner };
}
