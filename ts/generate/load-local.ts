/**
 * Loads a model and its tokenizer on the current thread: the worker calls this, and so does
 * `loadModel(path, { worker: false })`.
 */
import { getBackend } from '../backend/index.js';
import { modelChatInfo } from '../chat/model-template.js';
import { openModelFile } from '../formats/model-file.js';
import { describeModel } from '../models/registry.js';
import { Transformer } from '../models/transformer.js';
import { Engine } from './engine.js';
import type { ModelInfo } from './info.js';
import type { LoadModelOptions } from './load-options.js';
import { loadReporter, type LoadPhaseProgress } from './load-progress.js';
import { openTokenizer } from './tokenizer.js';

export async function loadLocal(
  path: string,
  options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'> = {},
  onProgress?: (p: LoadPhaseProgress) => void,
): Promise<{ engine: Engine; info: ModelInfo; close(): void }> {
  const report = onProgress ? loadReporter(onProgress) : null;
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('tensorloom: loadModel needs a model path');
  const t0 = performance.now();
  const backend = getBackend(options.backend);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 0) throw new RangeError(`tensorloom: threads must be an integer ≥ 0, got ${options.threads}`);
    backend.setThreads(options.threads);
  }
  const src = openModelFile(path, options.tokenizer !== undefined ? { tokenizer: options.tokenizer } : {});
  try {
    const sizes = { tensors: src.tensors.size, tensorBytes: src.tensorBytes() };
    report?.({ step: 'open', layersBuilt: 0, layers: 0, ...sizes, fraction: 0.05 });
    const { config, weights } = describeModel(src);
    const layers = config.nLayers;
    report?.({ step: 'tensors', layersBuilt: 0, layers, ...sizes, fraction: 0.1 });
    const tok = openTokenizer(src, config.vocabSize);
    const model = new Transformer(backend, config, weights, {
      ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      ...(options.kvCache !== undefined ? { kvCache: options.kvCache } : {}),
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      ...(report ? { onLayer: (built: number, total: number) => report({ step: 'layers', layersBuilt: built, layers: total, ...sizes, fraction: 0.1 + (0.85 * built) / total }) } : {}),
    });
    const engine = new Engine(model, tok.tokenizer, tok.stopIds);
    const info: ModelInfo = {
      path,
      format: src.format,
      config,
      contextLength: model.contextLength,
      kvCache: model.cache.dtype,
      backend: backend.info(),
      tokenizer: { path: tok.path, vocabSize: tok.tokenizer.vocabSize, bosId: tok.tokenizer.specialIds.bos ?? config.bosTokenId, eosIds: engine.eosIds },
      chat: modelChatInfo(src, tok.tokenizer.specialIds.bos ?? config.bosTokenId, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens),
      loadMs: performance.now() - t0,
    };
    report?.({ step: 'ready', layersBuilt: layers, layers, ...sizes, fraction: 1 });
    return {
      engine,
      info,
      close: () => {
        model.dispose();
        src.close();
      },
    };
  } catch (err) {
    src.close();
    throw err;
  }
}
