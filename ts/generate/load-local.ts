/**
 * Loads a model and its tokenizer on the current thread: the worker calls this, and so does
 * `loadModel(path, { worker: false })`.
 */
import { getBackend } from '../backend/index.js';
import { modelChatInfo } from '../chat/model-template.js';
import { openModelFile, type ModelFile } from '../formats/model-file.js';
import type { Backend } from '../backend/types.js';
import { describeModel, resolveModel } from '../models/registry.js';
import { EncoderDecoder } from '../models/encoder-decoder.js';
import { t5Weights } from '../models/t5.js';
import { Seq2SeqEngine } from './seq2seq-engine.js';
import { Transformer } from '../models/transformer.js';
import { Engine } from './engine.js';
import type { ModelInfo } from './info.js';
import type { LoadModelOptions } from './load-options.js';
import { openTokenizer } from './tokenizer.js';

export async function loadLocal(path: string, options: Omit<LoadModelOptions, 'worker'> = {}): Promise<{ engine: Engine | Seq2SeqEngine; info: ModelInfo; close(): void }> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('tensorloom: loadModel needs a model path');
  const t0 = performance.now();
  const backend = getBackend(options.backend);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 0) throw new RangeError(`tensorloom: threads must be an integer ≥ 0, got ${options.threads}`);
    backend.setThreads(options.threads);
  }
  const src = openModelFile(path, options.tokenizer !== undefined ? { tokenizer: options.tokenizer } : {});
  try {
    if (resolveModel(src).config.seq2seq) return loadEncoderDecoder(path, src, backend, options, t0);
    const { config, weights } = describeModel(src);
    const tok = openTokenizer(src, config.vocabSize);
    const model = new Transformer(backend, config, weights, {
      ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      ...(options.kvCache !== undefined ? { kvCache: options.kvCache } : {}),
      ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
      ...(options.trimSlidingWindow !== undefined ? { trimSlidingWindow: options.trimSlidingWindow } : {}),
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

/** An encoder-decoder (T5 family): its own forward pass and generation loop, the same Model API. */
function loadEncoderDecoder(path: string, src: ModelFile, backend: Backend, options: Omit<LoadModelOptions, 'worker'>, t0: number): { engine: Seq2SeqEngine; info: ModelInfo; close(): void } {
  for (const key of ['kvCache', 'maxBatch'] as const) {
    if (options[key] !== undefined) throw new TypeError(`tensorloom: ${path}: the ${key} option is for decoder-only models; an encoder-decoder keeps an f32 decoder cache and encodes the whole source at once`);
  }
  const { config, file } = resolveModel(src);
  const s = config.seq2seq!;
  if (s.encoderOnly) throw new Error(`tensorloom: ${path}: '${config.architecture}' is an encoder-only T5 (no decoder): it cannot generate text`);
  const model = new EncoderDecoder(backend, config, t5Weights(file, config), options.contextLength !== undefined ? { maxTarget: options.contextLength } : {});
  const tok = openTokenizer(src, config.vocabSize);
  const engine = new Seq2SeqEngine(model, tok.tokenizer, tok.stopIds);
  const info: ModelInfo = {
    path,
    format: src.format,
    config,
    contextLength: model.maxTarget,
    kvCache: 'f32',
    backend: backend.info(),
    tokenizer: { path: tok.path, vocabSize: tok.tokenizer.vocabSize, bosId: null, eosIds: engine.eosIds },
    chat: modelChatInfo(src, null, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens),
    loadMs: performance.now() - t0,
    encoderDecoder: { encoderLayers: config.nLayers, decoderLayers: s.decoderLayers, decoderStartTokenId: s.decoderStartTokenId, maxSourceTokens: model.maxSource },
  };
  return { engine, info, close: () => src.close() };
}
