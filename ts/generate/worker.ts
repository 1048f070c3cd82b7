/**
 * The worker thread that holds a model: it loads the model on start, then runs one generation at
 * a time synchronously (a whole decode step never touches the main thread), streaming text back
 * by message. Text chunks are batched for at most FLUSH_MS so that a fast model does not flood
 * the main thread with one message per token.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadLocal } from './load-local.js';
import { ABORT_SLOT, toWire, type FromWorker, type ToWorker, type WorkerInit } from './protocol.js';

const FLUSH_MS = 2;

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('tensorloom: generate/worker must run in a worker thread');
  const init = workerData as WorkerInit;
  const control = new Int32Array(init.control);
  const post = (m: FromWorker): void => port.postMessage(m);
  let loaded: Awaited<ReturnType<typeof loadLocal>>;
  try {
    loaded = await loadLocal(init.path, init.options, init.progress ? (progress) => post({ type: 'progress', progress }) : undefined);
  } catch (err) {
    post({ type: 'load-error', error: toWire(err) });
    return;
  }
  post({ type: 'ready', info: loaded.info });

  // Nothing may escape a message handler: an uncaught exception here would end the thread and,
  // with it, every request of this model. A failure rejects the request it belongs to.
  port.on('message', (m: ToWorker) => {
    try {
      handle(m);
    } catch (err) {
      const id = typeof (m as { id?: unknown })?.id === 'number' ? (m as { id: number }).id : 0;
      try {
        post({ type: 'error', id, error: toWire(err) });
      } catch {
        post({ type: 'error', id, error: { kind: 'Error', name: 'Error', message: String(err) } });
      }
    }
  });

  const handle = (m: ToWorker): void => {
    if (m.type === 'dispose') {
      loaded.close();
      post({ type: 'disposed' });
      port.close();
      return;
    }
    if (m.type === 'encode') {
      try {
        post({ type: 'encoded', id: m.id, tokens: loaded.encode(m.text, m.addBos) });
      } catch (err) {
        post({ type: 'error', id: m.id, error: toWire(err) });
      }
      return;
    }
    if (m.type === 'embed' || m.type === 'rank') {
      const aborted = (): boolean => Atomics.load(control, ABORT_SLOT) === m.id;
      try {
        if (m.type === 'embed') {
          const r = loaded.embedder.embed(m.input, m.options, aborted);
          // the vectors are transferred, not copied
          port.postMessage({ type: 'embedded', id: m.id, vectors: r.vectors, tokens: r.tokens, counts: r.counts } satisfies FromWorker, r.vectors.map((v) => v.buffer as ArrayBuffer));
        } else {
          post({ type: 'ranked', id: m.id, groups: loaded.embedder.rankGroups(m.groups, { truncate: m.truncate }, aborted) });
        }
      } catch (err) {
        post({ type: 'error', id: m.id, error: toWire(err) });
      }
      return;
    }
    let buffered = '';
    let last = performance.now();
    const flush = (): void => {
      if (buffered) post({ type: 'text', id: m.id, text: buffered });
      buffered = '';
    };
    try {
      const result = loaded.engine.generate(m.prompt, m.options, {
        aborted: () => Atomics.load(control, ABORT_SLOT) === m.id,
        ...(m.stream
          ? {
              onText: (s: string) => {
                buffered += s;
                const now = performance.now();
                if (now - last >= FLUSH_MS) {
                  flush();
                  last = now;
                }
              },
            }
          : {}),
      });
      flush();
      post({ type: 'done', id: m.id, result });
    } catch (err) {
      flush();
      post({ type: 'error', id: m.id, error: toWire(err) });
    }
  };
}

void main();
