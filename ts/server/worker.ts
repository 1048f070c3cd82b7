/**
 * The serving worker: loads the engine, then runs the batch loop one step at a time. Between two
 * steps it yields to its event loop (setImmediate), which is where submissions and
 * cancellations from the main thread arrive — so a new request joins at the next step and an
 * aborted one leaves before it. The main thread's event loop never waits on a forward pass.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BatchLoop, type LoopEvent } from './batch-loop.js';
import type { EngineModule, LoadedEngine } from './engine.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import * as builtinEngine from './model-engine.js';
import { answerTokenize } from './tokenize-worker.js';

if (!parentPort) throw new Error('tensorloom: server/worker.js must run in a worker thread');
const port = parentPort;
const init = workerData as WorkerInit;
const post = (m: FromWorker): void => port.postMessage(m);

async function main(): Promise<void> {
  let loaded: LoadedEngine;
  try {
    const mod: EngineModule = init.engineModule ? ((await import(init.engineModule)) as EngineModule) : builtinEngine;
    loaded = await mod.loadEngine(init.load);
  } catch (err) {
    post({ type: 'load-failed', error: { kind: 'internal', message: err instanceof Error ? err.message : String(err) } });
    return;
  }
  const loop = new BatchLoop(loaded, { prefillChunk: init.prefillChunk, promptCache: init.promptCache });
  let stepping = false;
  let closing = false;
  let lastStats = '';
  /** Sends the events, and the slot counts whenever they changed (a cancel frees a slot silently). */
  const flush = (events: LoopEvent[]): void => {
    const stats = loop.stats();
    const key = `${stats.slotsBusy}/${stats.waiting}`;
    if (events.length === 0 && key === lastStats) return;
    lastStats = key;
    post({ type: 'events', events, stats });
  };

  const tick = (): void => {
    if (closing) return;
    flush(loop.step());
    if (loop.hasWork() && !closing) setImmediate(tick);
    else stepping = false;
  };

  const kick = (): void => {
    if (!stepping && loop.hasWork()) {
      stepping = true;
      setImmediate(tick);
    }
  };

  // Nothing may escape a message handler (it would end the thread and every request in it): a
  // failure rejects the request it belongs to, as an internal error.
  port.on('message', (msg: ToWorker) => {
    try {
      handle(msg);
    } catch (err) {
      const id = (msg as { id?: unknown })?.id;
      const message = err instanceof Error ? err.message : String(err);
      if (typeof id === 'number') {
        try {
          loop.cancel(id);
        } catch {
          /* the request never got into the loop */
        }
        post({ type: 'events', events: [{ id, kind: 'failed', error: { kind: 'internal', message } }], stats: loop.stats() });
      } else process.emitWarning(`tensorloom: the serving worker could not handle a message: ${message}`);
    }
  });

  const handle = (msg: ToWorker): void => {
    switch (msg.type) {
      case 'submit': {
        const ev = loop.submit(msg.id, msg.request);
        // Acceptance is reported at once (the caller waits for it before answering HTTP).
        flush([ev]);
        kick();
        break;
      }
      case 'cancel':
        loop.cancel(msg.id);
        if (!stepping) flush([]);
        break;
      case 'tokenize':
      case 'detokenize':
        post(answerTokenize(loaded, msg));
        break;
      case 'shutdown':
        closing = true;
        loaded.engine.dispose();
        post({ type: 'closed' });
        // Ends this thread even if a loader keeps handles open.
        process.exit(0);
        break;
    }
  };

  post({ type: 'ready', info: loaded.info });
}

void main();
