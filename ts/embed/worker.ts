/**
 * The worker thread that holds an embedding model: loads it, then runs one embed/rank request at a
 * time synchronously (each a few packed forward passes) and posts the vectors back (transferred,
 * not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadEmbeddingLocal } from './load-local.js';
import { ABORT_SLOT, wireError, type EmbedWorkerInit, type FromEmbedWorker, type ToEmbedWorker } from './protocol.js';

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('tensorloom: embed/worker must run in a worker thread');
  const init = workerData as EmbedWorkerInit;
  const control = new Int32Array(init.control);
  const post = (m: FromEmbedWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
  let loaded: ReturnType<typeof loadEmbeddingLocal>;
  try {
    loaded = loadEmbeddingLocal(init.path, init.options);
  } catch (err) {
    post({ type: 'load-error', error: wireError(err) });
    return;
  }
  post({ type: 'ready', info: loaded.info });
  port.on('message', (m: ToEmbedWorker) => {
    if (m.type === 'dispose') {
      loaded.close();
      post({ type: 'disposed' });
      port.close();
      return;
    }
    const aborted = () => Atomics.load(control, ABORT_SLOT) === m.id;
    try {
      if (m.type === 'embed') {
        const r = loaded.embedder.embed(m.input, m.options, aborted);
        post({ type: 'embedded', id: m.id, vectors: r.vectors, tokens: r.tokens, counts: r.counts }, r.vectors.map((v) => v.buffer as ArrayBuffer));
      } else {
        const r = loaded.embedder.rank(m.query, m.documents, { truncate: m.truncate }, aborted);
        post({ type: 'ranked', id: m.id, scores: r.scores, tokens: r.tokens });
      }
    } catch (err) {
      post({ type: 'error', id: m.id, error: wireError(err) });
    }
  });
}

main();
