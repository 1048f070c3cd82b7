/**
 * Loads a model and its tokenizer on the current thread: the worker calls this, and so does
 * `loadModel(path, { worker: false })`. One loaded file serves every capability it has:
 * - generate: decoders (the Transformer + generation Engine);
 * - embed: encoders (BERT family) and decoders whose file declares a pooling (Qwen3-Embedding),
 *   through the packed Encoder forward pass (ts/models/encoder.ts, ts/embed/embedder.ts), and
 *   encoder-only T5s (t5encoder) through EncoderDecoder's encoder — both TokenEncoders;
 * - rank: models whose pooling is `rank` (cross-encoder rerankers).
 * The side a file is for is built at load time; a decoder embedder's generation side is built on
 * first use (it would otherwise allocate a KV cache nobody asked for).
 */
import { getBackend } from '../backend/index.js';
import { encodeTemplated } from '../chat/encode.js';
import { modelChatInfo } from '../chat/model-template.js';
import { isTemplatedText, type TemplatedText } from '../chat/types.js';
import type { Backend } from '../backend/types.js';
import { Embedder } from '../embed/embedder.js';
import { metaString } from '../formats/gguf.js';
import { openModelFile, type ModelFile } from '../formats/model-file.js';
import { EncoderDecoder } from '../models/encoder-decoder.js';
import { buildEncoder, declaredPooling, describeModel, modelConfig, resolveModel } from '../models/registry.js';
import { t5Weights } from '../models/t5.js';
import { Seq2SeqEngine } from './seq2seq-engine.js';
import { Transformer } from '../models/transformer.js';
import { Engine } from './engine.js';
import type { ModelCapabilities, ModelInfo } from './info.js';
import type { LoadModelOptions } from './load-options.js';
import { loadReporter, type LoadPhaseProgress } from './load-progress.js';
import { openTokenizer } from './tokenizer.js';

export interface LoadedModel {
  info: ModelInfo;
  /** The generation engine; reading it throws CapabilityError when the model cannot generate. */
  readonly engine: Engine | Seq2SeqEngine;
  /** The embedder (embed and rank); reading it throws CapabilityError when the model cannot embed. */
  readonly embedder: Embedder;
  /** Token ids of a text as generate would feed it (an embedding-only model: its tokenizer's own encoding). */
  encode(text: string | TemplatedText, addBos: boolean): number[];
  close(): void;
}

import { CapabilityError } from '../errors/capability-error.js';
export { CapabilityError };

export async function loadLocal(
  path: string,
  options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'> = {},
  onProgress?: (p: LoadPhaseProgress) => void,
): Promise<LoadedModel> {
  const report = onProgress ? loadReporter(onProgress) : null;
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('tensorloom: loadModel needs a model path');
  const t0 = performance.now();
  const backend = getBackend(options.backend);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 0) throw new RangeError(`tensorloom: threads must be an integer ≥ 0, got ${options.threads}`);
    backend.setThreads(options.threads);
  }
  if (options.maxBatchTokens !== undefined && (!Number.isInteger(options.maxBatchTokens) || options.maxBatchTokens < 1)) {
    throw new RangeError(`tensorloom: maxBatchTokens must be a positive integer, got ${options.maxBatchTokens}`);
  }
  if (options.io !== undefined && !['auto', 'read', 'mmap', 'huge'].includes(options.io)) {
    throw new RangeError(`tensorloom: io must be one of auto | read | mmap | huge, got '${String(options.io)}'`);
  }
  const src = openModelFile(path, {
    ...(options.tokenizer !== undefined ? { tokenizer: options.tokenizer } : {}),
    ...(options.io !== undefined ? { io: options.io } : {}),
  });
  let model: Transformer | null = null;
  try {
    if (resolveModel(src).config.seq2seq) return loadEncoderDecoder(path, src, backend, options, t0);
    const sizes = { tensors: src.tensors.size, tensorBytes: src.tensorBytes() };
    report?.({ step: 'open', layersBuilt: 0, layers: 0, ...sizes, fraction: 0.05 });
    const config = modelConfig(src);
    const layers = config.nLayers;
    report?.({ step: 'tensors', layersBuilt: 0, layers, ...sizes, fraction: 0.1 });
    const tok = openTokenizer(src, config.vocabSize);
    const pooling = config.encoder ? config.encoder.pooling : declaredPooling(src);
    const isEncoder = config.encoder !== undefined;
    const embeds = isEncoder || (pooling !== null && pooling !== 'none');
    const encoder = embeds ? buildEncoder(src, backend, options.maxBatchTokens !== undefined ? { maxRows: options.maxBatchTokens } : {}) : null;
    const rerankTemplate = src.gguf ? (metaString(src.gguf, 'tokenizer.chat_template.rerank') ?? null) : null;
    const embedder = encoder ? new Embedder(encoder, tok.tokenizer, { rerankTemplate }) : null;
    const buildEngine = (): Engine => {
      model = new Transformer(backend, config, describeModel(src).weights, {
        ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
        ...(options.kvCache !== undefined ? { kvCache: options.kvCache } : {}),
        ...(options.maxBatch !== undefined ? { maxBatch: options.maxBatch } : {}),
        ...(options.trimSlidingWindow !== undefined ? { trimSlidingWindow: options.trimSlidingWindow } : {}),
        ...(report ? { onLayer: (built: number, total: number) => report({ step: 'layers', layersBuilt: built, layers: total, ...sizes, fraction: 0.1 + (0.85 * built) / total }) } : {}),
      });
      return new Engine(model, tok.tokenizer, tok.stopIds);
    };
    // decoders that are for generation build their engine now (load errors surface at load)
    let engine: Engine | null = isEncoder || embeds ? null : buildEngine();
    const capabilities: ModelCapabilities = { generate: !isEncoder, embed: embeds && pooling !== 'rank', rank: pooling === 'rank' };
    const bos = tok.tokenizer.specialIds.bos ?? config.bosTokenId;
    const info: ModelInfo = {
      path,
      format: src.format,
      config,
      contextLength: engine ? (model as Transformer | null)!.contextLength : embedder ? embedder.contextLength : config.contextLength,
      kvCache: engine ? (model as Transformer | null)!.cache.dtype : null,
      backend: backend.info(),
      tokenizer: { path: tok.path, vocabSize: tok.tokenizer.vocabSize, bosId: bos, eosIds: engine ? engine.eosIds : tok.stopIds },
      chat: modelChatInfo(src, bos, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens),
      capabilities,
      embedding: embedder
        ? { dimensions: config.dim, contextLength: embedder.contextLength, pooling, reranker: pooling === 'rank' }
        : null,
      loadMs: performance.now() - t0,
    };
    report?.({ step: 'ready', layersBuilt: layers, layers, ...sizes, fraction: 1 });
    const name = `${path}: '${config.architecture}'`;
    const getEngine = (): Engine => {
      if (isEncoder) throw new CapabilityError(`tensorloom: ${name} is an encoder; it embeds but cannot generate`);
      engine ??= buildEngine();
      return engine;
    };
    const getEmbedder = (): Embedder => {
      if (!embedder) {
        throw new CapabilityError(
          `tensorloom: ${name} is a generative model, not an embedding model; it cannot embed or rank (its file declares no pooling: ${src.gguf ? `${src.architecture}.pooling_type` : '1_Pooling/config.json'})`,
        );
      }
      return embedder;
    };
    return {
      info,
      get engine() {
        return getEngine();
      },
      get embedder() {
        return getEmbedder();
      },
      encode(text, addBos) {
        if (engine || !embedder) return getEngine().encode(text, addBos);
        if (typeof text === 'string') return Array.from(tok.tokenizer.encode(text, { addSpecialTokens: addBos }));
        if (isTemplatedText(text)) return encodeTemplated(tok.tokenizer, text, addBos);
        throw new TypeError(`tensorloom: encode takes a string, got ${typeof text}`);
      },
      close: () => {
        (model as Transformer | null)?.dispose();
        src.close();
      },
    };
  } catch (err) {
    (model as Transformer | null)?.dispose();
    src.close();
    throw err;
  }
}

/** An encoder-decoder (T5 family): its own forward pass and generation loop, the same Model API. */
function loadEncoderDecoder(path: string, src: ModelFile, backend: Backend, options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'>, t0: number): LoadedModel {
  for (const key of ['kvCache', 'maxBatch'] as const) {
    if (options[key] !== undefined) throw new TypeError(`tensorloom: ${path}: the ${key} option is for decoder-only models; an encoder-decoder keeps an f32 decoder cache and encodes the whole source at once`);
  }
  const { config, file } = resolveModel(src);
  const s = config.seq2seq!;
  if (s.encoderOnly) return loadT5Encoder(path, src, backend, t0);
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
    capabilities: { generate: true, embed: false, rank: false },
    embedding: null,
    loadMs: performance.now() - t0,
    encoderDecoder: { encoderLayers: config.nLayers, decoderLayers: s.decoderLayers, decoderStartTokenId: s.decoderStartTokenId, maxSourceTokens: model.maxSource },
  };
  return {
    info,
    engine,
    get embedder(): Embedder {
      throw new CapabilityError(`tensorloom: ${path}: '${config.architecture}' is an encoder-decoder; it generates but cannot embed or rank`);
    },
    encode: (text, addBos) => engine.encode(text, addBos),
    close: () => src.close(),
  };
}

/**
 * An encoder-only T5 (`t5encoder`): embeds through the Embedder like the other encoders, pooling as
 * the file declares, else by the mean (sentence-T5's convention; llama.cpp writes no pooling key for
 * t5encoder); it has no decoder, so it cannot generate.
 */
function loadT5Encoder(path: string, src: ModelFile, backend: Backend, t0: number): LoadedModel {
  const { config, file } = resolveModel(src);
  const pooling = declaredPooling(src) ?? 'mean';
  const model = new EncoderDecoder(backend, config, t5Weights(file, config), { pooling });
  const tok = openTokenizer(src, config.vocabSize);
  const embedder = new Embedder(model, tok.tokenizer);
  const info: ModelInfo = {
    path,
    format: src.format,
    config,
    contextLength: embedder.contextLength,
    kvCache: null,
    backend: backend.info(),
    tokenizer: { path: tok.path, vocabSize: tok.tokenizer.vocabSize, bosId: null, eosIds: tok.stopIds },
    chat: modelChatInfo(src, null, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens),
    capabilities: { generate: false, embed: pooling !== 'rank', rank: false },
    embedding: { dimensions: config.dim, contextLength: embedder.contextLength, pooling, reranker: false },
    loadMs: performance.now() - t0,
  };
  return {
    info,
    get engine(): never {
      throw new CapabilityError(`tensorloom: ${path}: '${config.architecture}' is an encoder-only T5 (no decoder); it embeds but cannot generate`);
    },
    embedder,
    encode: (text) => {
      if (typeof text !== 'string') throw new TypeError('tensorloom: an encoder-only T5 encodes plain text (no chat templates)');
      return Array.from(tok.tokenizer.encode(text, { addSpecialTokens: true }));
    },
    close: () => src.close(),
  };
}

/** loadLocal for callers that need the decoder Engine itself (its Transformer): refuses encoder-decoders. */
export async function loadLocalDecoder(path: string, options: Omit<LoadModelOptions, 'worker' | 'onProgress' | 'signal'> = {}): Promise<LoadedModel & { readonly engine: Engine }> {
  const local = await loadLocal(path, options);
  const engine = local.info.encoderDecoder ? null : local.engine;
  if (!(engine instanceof Engine)) {
    local.close();
    throw new CapabilityError(`tensorloom: ${path} is an encoder-decoder; this needs a decoder-only model`);
  }
  return {
    info: local.info,
    engine,
    get embedder() {
      return local.embedder;
    },
    encode: (text, addBos) => local.encode(text, addBos),
    close: () => local.close(),
  };
}
