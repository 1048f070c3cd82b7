/**
 * The serving engine of encoder-decoder models (T5 family), driven by the same batch loop as the
 * decoders. What the loop calls a sequence's "prompt" is the *source*: its prompt rows (chunks
 * from position 0) are collected, and on the final chunk the encoder runs over the whole source,
 * its cross-attention K/V are kept in the slot, and the decoder runs its start token — that row's
 * logits are the first step's. Every later row is one decoder token, which maps to decoder
 * position `pos − sourceLength + 1`. Each slot therefore holds its own encoder K/V (cross) next to
 * its own decoder self-attention cache, and requests join and leave the batch step by step.
 *
 * The rows of one step run one after another through `EncoderDecoder.decode` (its workspace is
 * single-sequence): the scheduling is continuous batching, the matrix work is not yet fused
 * across rows.
 */
import { basename, extname } from 'node:path';
import type { Backend } from '../backend/types.js';
import { modelChatInfo } from '../chat/model-template.js';
import { isTemplatedText } from '../chat/types.js';
import type { ModelFile } from '../formats/model-file.js';
import { Seq2SeqEngine } from '../generate/seq2seq-engine.js';
import { resolveSampling, Sampler } from '../generate/sampler.js';
import { openTokenizer } from '../generate/tokenizer.js';
import { resolveModel } from '../models/architectures.js';
import { EncoderDecoder, type DecoderState } from '../models/encoder-decoder.js';
import { t5Weights } from '../models/t5.js';
import type { BatchRow, EngineLoadOptions, LoadedEngine, ServeTokenizer } from './engine.js';

/** One slot's sequence: the source gathered so far, then its decoder (which holds the encoded source). */
interface Slot {
  source: number[];
  sourceLength: number;
  state: DecoderState | null;
  /** The slot's decoder self-attention cache, one [maxTarget × kvInner] array per layer, reused across requests. */
  readonly k: Float32Array[];
  readonly v: Float32Array[];
  /** The decoder's history (start token, then generated ids), for the sampler's penalties. */
  readonly history: Int32Array;
}

/** Whether the file is an encoder-decoder (so model-engine.ts hands it here). */
export function isEncoderDecoder(src: ModelFile): boolean {
  return resolveModel(src).config.seq2seq !== undefined;
}

export async function loadSeq2SeqEngine(opts: EngineLoadOptions, src: ModelFile, backend: Backend): Promise<LoadedEngine> {
  const { config, file } = resolveModel(src);
  const spec = config.seq2seq!;
  if (spec.encoderOnly) throw new Error(`tensorloom: ${opts.model}: '${config.architecture}' is an encoder-only T5 (no decoder): it cannot generate text, so it cannot be served for completions`);
  const maxTarget = opts.contextLength ?? config.contextLength;
  const model = new EncoderDecoder(backend, config, t5Weights(file, config), { maxTarget });
  const tok = await openTokenizer(src, config.vocabSize);
  const single = new Seq2SeqEngine(model, tok.tokenizer, tok.stopIds);
  const V = config.vocabSize;
  const kvInner = config.nKvHeads * config.headDim;
  const layers = spec.decoderLayers;
  const slots: Slot[] = Array.from({ length: opts.slots }, () => ({
    source: [],
    sourceLength: 0,
    state: null,
    k: Array.from({ length: layers }, () => new Float32Array(maxTarget * kvInner)),
    v: Array.from({ length: layers }, () => new Float32Array(maxTarget * kvInner)),
    history: new Int32Array(maxTarget + 1),
  }));
  const kvCacheBytes = opts.slots * layers * maxTarget * kvInner * 2 * 4;
  const out = new Float32Array(opts.slots * V);
  const startToken = Int32Array.of(spec.decoderStartTokenId);

  const stepOut = new Float32Array(opts.slots * V);
  const forward = (rows: readonly BatchRow[]): Float32Array => {
    // Prompt rows run here one by one (the encoder, then the start token); decode rows are gathered
    // and run together as one decoder step (EncoderDecoder.decodeRows); logits stay in row order.
    const stepStates: DecoderState[] = [];
    const stepTokens: number[] = [];
    const stepAt: number[] = [];
    let n = 0;
    for (const row of rows) {
      const s = slots[row.slot]!;
      if (row.pos === 0) {
        s.source = [];
        s.state = null;
      }
      if (s.state === null) {
        for (const t of row.tokens) s.source.push(t);
        if (!row.wantLogits) continue;
        if (s.source.length > model.maxSource) throw new RangeError(`tensorloom: the source has ${s.source.length} tokens, more than the encoder's context of ${model.maxSource}`);
        s.sourceLength = s.source.length;
        s.state = { source: model.encode(Int32Array.from(s.source)), pos: 0, k: s.k, v: s.v };
        out.set(model.decode(s.state, startToken), n * V);
        n++;
        continue;
      }
      const at = row.pos - s.sourceLength + 1;
      if (at !== s.state.pos || row.tokens.length !== 1) {
        throw new Error(`tensorloom: slot ${row.slot} holds ${s.state.pos} decoder positions but the row is ${row.tokens.length} token(s) at position ${at}`);
      }
      if (!row.wantLogits) throw new Error('tensorloom: a decoder row must want its logits');
      stepStates.push(s.state);
      stepTokens.push(row.tokens[0]!);
      stepAt.push(n++);
    }
    if (stepStates.length > 0) {
      model.decodeRows(stepStates, Int32Array.from(stepTokens), stepOut);
      for (let r = 0; r < stepAt.length; r++) out.set(stepOut.subarray(r * V, (r + 1) * V), stepAt[r]! * V);
    }
    return out.subarray(0, n * V);
  };

  const copySlot = (from: number, to: number): void => {
    const a = slots[from]!;
    const b = slots[to]!;
    if (!a.state) throw new Error(`tensorloom: slot ${from} has no encoded source to copy`);
    const used = a.state.pos * kvInner;
    for (let l = 0; l < layers; l++) {
      b.k[l]!.set(a.k[l]!.subarray(0, used));
      b.v[l]!.set(a.v[l]!.subarray(0, used));
    }
    b.source = a.source.slice();
    b.sourceLength = a.sourceLength;
    b.state = { source: a.state.source, pos: a.state.pos, k: b.k, v: b.v };
  };

  const samplers = Array.from({ length: opts.slots }, () => new Sampler(V, (x) => backend.argmax(x), backend));
  const tokenizer: ServeTokenizer = {
    // The source text → ids (T5 appends </s>, never a BOS); empty or over-long sources are refused here.
    // (/tokenize with parse_special hands a TemplatedText: its whole text is the source.)
    encode: (prompt) => single.encode(isTemplatedText(prompt) ? prompt.text : prompt),
    createStreamDecoder: () => tok.tokenizer.createStreamDecoder({ skipSpecialTokens: true }),
    eosIds: single.eosIds,
    ...(tok.tokenizer.tokenTable ? { tokenTable: () => tok.tokenizer.tokenTable!() } : {}),
  };
  const chat = modelChatInfo(src, null, tok.tokenizer.specialIds.eos ?? config.eosTokenIds[0] ?? null, tok.controlTokens);
  const contextLength = model.maxSource + maxTarget;
  return {
    engine: {
      vocabSize: V,
      contextLength,
      slots: opts.slots,
      encoderDecoder: { maxSource: model.maxSource, maxTarget },
      forward,
      copySlot,
      dispose: () => src.close(),
    },
    tokenizer,
    info: {
      id: basename(opts.model, extname(opts.model)),
      architecture: config.architecture,
      vocabSize: V,
      contextLength,
      slots: opts.slots,
      chatTemplate: chat.template,
      kvCacheBytes,
      encoderDecoder: { maxSourceTokens: model.maxSource, maxTargetTokens: maxTarget },
    },
    makeSampler: (params, slot) => {
      const sampler = samplers[slot]!;
      sampler.reset(resolveSampling(params));
      const s = slots[slot]!;
      // The loop's history is source + generated; the penalties see the decoder's own (start token + generated), as Seq2SeqEngine does.
      return (logits, history, length) => {
        const generated = length - s.sourceLength;
        s.history[0] = spec.decoderStartTokenId;
        s.history.set(history.subarray(s.sourceLength, length), 1);
        return sampler.sample(logits, s.history, generated + 1);
      };
    },
  };
}
