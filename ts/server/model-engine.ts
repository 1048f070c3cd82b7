/**
 * The built-in engine: serves our Llama / GPT-2 models. The model file is opened and its layers
 * built by ts/models (a `Transformer`, whose own single-sequence cache is left at one position);
 * `BatchedForward` runs the steps over a slotted KV cache; tokenization and sampling reuse
 * ts/generate (`Engine.encode`, one `Sampler` per slot).
 */
import { basename, extname } from 'node:path';
import { modelChatInfo } from '../chat/model-template.js';
import { getBackend } from '../backend/index.js';
import { openModelFile, type ModelFile } from '../formats/model-file.js';
import { Engine } from '../generate/engine.js';
import { resolveSampling, Sampler } from '../generate/sampler.js';
import { openTokenizer } from '../generate/tokenizer.js';
import { describeModel } from '../models/registry.js';
import { Transformer } from '../models/transformer.js';
import { BatchedForward } from './batched-forward.js';
import { isEncoderDecoder, loadSeq2SeqEngine } from './seq2seq-serve-engine.js';
import type { EngineLoadOptions, LoadedEngine, ServeTokenizer } from './engine.js';

/** KV cache for all slots when no budget is given. */
const DEFAULT_KV_BUDGET = 2 * 2 ** 30;
/** Positions per slot when the model's context is longer (and no contextLength is given). */
const DEFAULT_MAX_CONTEXT = 4096;

export async function loadEngine(opts: EngineLoadOptions): Promise<LoadedEngine> {
  const backend = getBackend();
  if (opts.threads !== undefined) backend.setThreads(opts.threads);
  const src = openModelFile(opts.model, opts.tokenizer !== undefined ? { tokenizer: opts.tokenizer } : {});
  let model: Transformer | undefined;
  try {
    if (isEncoderDecoder(src)) return await loadSeq2SeqEngine(opts, src, backend);
    const { config, weights } = describeModel(src);
    const tok = await openTokenizer(src, config.vocabSize);
    // The layers, with a one-position cache of their own that serving never uses.
    model = new Transformer(backend, config, weights, { contextLength: 1, maxBatch: 1 });
    const single = new Engine(model, tok.tokenizer, tok.stopIds);

    const bytesPerPosition = config.nLayers * config.nKvHeads * config.headDim * 2 * 4;
    const budget = opts.kvBudgetBytes ?? DEFAULT_KV_BUDGET;
    const fit = Math.floor(budget / (opts.slots * bytesPerPosition));
    let ctx = opts.contextLength ?? Math.min(config.contextLength, DEFAULT_MAX_CONTEXT, fit);
    if (opts.contextLength !== undefined && opts.contextLength > fit) {
      throw new RangeError(
        `tensorloom: ${opts.slots} slots × ${opts.contextLength} positions need ${mib(opts.slots * opts.contextLength * bytesPerPosition)} of KV cache, over the budget of ${mib(budget)}; lower contextLength or parallel, or raise the budget`,
      );
    }
    if (config.rope === null) ctx = Math.min(ctx, config.contextLength);
    if (ctx < 16) {
      throw new RangeError(`tensorloom: a KV budget of ${mib(budget)} leaves only ${ctx} positions per slot for ${opts.slots} slots; raise the budget or lower parallel`);
    }
    const padSingleRow = opts.engineOptions?.padSingleRow === true;
    const batched = new BatchedForward(model, { slots: opts.slots, contextLength: ctx, maxTokensPerStep: opts.maxTokensPerStep, padSingleRow });

    const V = config.vocabSize;
    const samplers = Array.from({ length: opts.slots }, () => new Sampler(V, (x) => backend.argmax(x), backend));
    const tokenizer: ServeTokenizer = {
      encode: (prompt, addBos) => single.encode(prompt, addBos),
      createStreamDecoder: () => tok.tokenizer.createStreamDecoder({ skipSpecialTokens: true }),
      eosIds: single.eosIds,
      tokenTable: () => tok.tokenizer.tokenTable!(),
    };
    const chat = modelChatInfo(src, tok.tokenizer.specialIds.bos ?? config.bosTokenId, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens);
    const built = model;
    return {
      engine: {
        vocabSize: V,
        contextLength: ctx,
        slots: opts.slots,
        forward: (rows) => batched.forward(rows),
        copySlot: (from, to, positions) => batched.copySlot(from, to, positions),
        resumeAt: (slot, n) => batched.resumeAt(slot, n),
        dispose: () => {
          batched.dispose();
          built.dispose();
          src.close();
        },
      },
      tokenizer,
      info: {
        id: basename(opts.model, extname(opts.model)),
        architecture: config.architecture,
        vocabSize: V,
        contextLength: ctx,
        slots: opts.slots,
        chatTemplate: chat.template,
        kvCacheBytes: batched.kvBytes,
        controlTokens: chat.controlTokens,
        ...(chat.bosToken !== undefined ? { bosText: chat.bosToken } : {}),
        ...(chat.eosToken !== undefined ? { eosText: chat.eosToken } : {}),
      },
      makeSampler: (params, slot) => {
        const s = samplers[slot]!;
        s.reset(resolveSampling(params));
        return (logits, history, length) => s.sample(logits, history, length);
      },
    };
  } catch (err) {
    model?.dispose();
    src.close();
    throw err;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}
