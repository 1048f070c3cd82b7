/**
 * t5 (GGUF `t5`, HF T5ForConditionalGeneration: T5, Flan-T5, LaMini-Flan-T5) and t5encoder (GGUF
 * `t5encoder`, HF T5EncoderModel): encoder-decoder transformers, run by ./encoder-decoder.ts.
 *
 * Both stacks are pre-norm with T5's RMSNorm (no mean subtraction, no bias), attention without
 * the 1/√d scale and without position embeddings: a learned relative position bias (one table per
 * stack, in layer 0) is added to the scores. The decoder block is self-attention (causal buckets),
 * cross-attention to the encoder output, feed-forward. Feed-forward: ReLU (T5 v1.0, `wi`) or
 * gated-GELU (T5 v1.1 / Flan-T5, `wi_0` gate and `wi_1` up; tanh GELU as `gelu_new`), chosen, as
 * llama.cpp does, by whether the file has ffn_gate. The LM head is the shared embedding (scaled
 * by dim^-½ before it; also when the file stores that tie as an output.weight equal to the
 * embedding) or a separate `lm_head` / `output`.
 */
import { FormatError } from '../formats/byte-source.js';
import { metaNumber } from '../formats/gguf.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile, TensorRename } from '../formats/model-file.js';
import type { Weights } from '../backend/types.js';
import { GGUFKeys, HFKeys, UnsupportedArchitectureError, specialTokens, type Architecture } from './architecture.js';
import type { ModelFamily, TransformerConfig } from './config.js';
import { linear, norm, type LinearWeights, type NormWeights } from './weights.js';

/** The distance at which T5's buckets stop growing (HF's default; llama.cpp hard-codes it). */
const MAX_DISTANCE = 128;

export interface T5AttentionWeights {
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  o: LinearWeights;
}

export interface T5FeedForwardWeights {
  /** Gated-GELU only (Flan-T5's wi_0). */
  gate: LinearWeights | null;
  up: LinearWeights;
  down: LinearWeights;
}

export interface T5EncoderLayerWeights {
  attnNorm: NormWeights;
  attn: T5AttentionWeights;
  ffnNorm: NormWeights;
  ffn: T5FeedForwardWeights;
}

export interface T5DecoderLayerWeights extends T5EncoderLayerWeights {
  crossNorm: NormWeights;
  cross: T5AttentionWeights;
}

export interface T5Weights {
  tokenEmbedding: Weights;
  /** [buckets, heads] relative bias tables of layer 0 of each stack. */
  encoderBias: Float32Array;
  encoderLayers: T5EncoderLayerWeights[];
  encoderNorm: NormWeights;
  /** null for t5encoder files. */
  decoder: {
    bias: Float32Array;
    layers: T5DecoderLayerWeights[];
    norm: NormWeights;
    /** [vocab, dim]: the token embedding itself when the head is tied. */
    lmHead: Weights;
  } | null;
}

/**
 * Whether the LM head is the shared embedding: no output.weight, or (a checkpoint that stored its
 * tied lm_head, which the converter then writes) an output.weight with the embedding's very bytes.
 */
function headIsTied(mf: ModelFile): boolean {
  if (!mf.has('output.weight')) return true;
  const a = mf.weights('output.weight');
  const b = mf.weights('token_embd.weight');
  if (a.dtype !== b.dtype || a.rows !== b.rows || a.cols !== b.cols || a.data.byteLength !== b.data.byteLength) return false;
  return Buffer.compare(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength)) === 0;
}

function t5Config(mf: ModelFile, family: ModelFamily): TransformerConfig {
  const { eos } = specialTokens(mf);
  const gated = mf.has('enc.blk.0.ffn_gate.weight');
  if (mf.gguf) {
    const k = new GGUFKeys(mf);
    const dim = k.need('embedding_length');
    const nHeads = k.need('attention.head_count');
    const nLayers = k.need('block_count');
    const tokens = mf.gguf.metadata.get('tokenizer.ggml.tokens');
    const vocab = k.num('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? mf.tensors.get('token_embd.weight')?.shape[0];
    if (vocab === undefined) throw new FormatError(`${k.where}: the vocabulary size is missing (no t5.vocab_size, tokenizer.ggml.tokens or token_embd.weight)`);
    const start = metaNumber(mf.gguf, k.key('decoder_start_token_id'));
    return {
      family,
      architecture: mf.architecture,
      vocabSize: vocab,
      dim,
      nLayers,
      nHeads,
      nKvHeads: k.has('attention.head_count_kv') ? k.need('attention.head_count_kv') : nHeads,
      headDim: k.num('attention.key_length') ?? dim / nHeads,
      hiddenDim: k.need('feed_forward_length'),
      contextLength: k.num('context_length') ?? 512,
      norm: 'rmsnorm',
      normEps: k.num('attention.layer_norm_rms_epsilon') ?? k.num('attention.layer_norm_epsilon') ?? 1e-6,
      mlp: gated ? 'geglu' : 'relu',
      rope: null,
      qkvBias: false,
      outBias: false,
      bosTokenId: null,
      eosTokenIds: eos,
      seq2seq: {
        decoderLayers: family === 't5encoder' ? 0 : (k.num('decoder_block_count') ?? nLayers),
        buckets: k.need('attention.relative_buckets_count'),
        maxDistance: MAX_DISTANCE,
        // llama.cpp falls back to BOS when the key is absent; T5 files have no BOS, so pad (0)
        decoderStartTokenId: start ?? specialTokens(mf).bos ?? 0,
        tiedHead: headIsTied(mf),
        encoderOnly: family === 't5encoder',
      },
    };
  }
  const k = new HFKeys(mf);
  const proj = typeof k.cfg.feed_forward_proj === 'string' ? k.cfg.feed_forward_proj : 'relu';
  if (proj !== 'relu' && proj !== 'gated-gelu') {
    throw new UnsupportedArchitectureError(`tensorloom: ${k.where}: feed_forward_proj '${proj}' is not supported (supported: relu, gated-gelu)`);
  }
  if ((proj === 'gated-gelu') !== gated) throw new FormatError(`${k.where}: feed_forward_proj is '${proj}' but the checkpoint ${gated ? 'has' : 'lacks'} DenseReluDense.wi_0 (the gate)`);
  const dim = k.need('d_model');
  const nHeads = k.need('num_heads');
  const nLayers = k.need('num_layers');
  const tied = k.cfg.tie_word_embeddings !== false;
  if (!tied && !mf.has('output.weight') && family === 't5') throw new FormatError(`${mf.path}: config says tie_word_embeddings=false but there is no lm_head.weight`);
  return {
    family,
    architecture: mf.architecture,
    vocabSize: k.need('vocab_size'),
    dim,
    nLayers,
    nHeads,
    nKvHeads: nHeads,
    headDim: k.num('d_kv') ?? dim / nHeads,
    hiddenDim: k.need('d_ff'),
    contextLength: k.num('n_positions') ?? 512,
    norm: 'rmsnorm',
    normEps: k.num('layer_norm_epsilon') ?? 1e-6,
    mlp: gated ? 'geglu' : 'relu',
    rope: null,
    qkvBias: false,
    outBias: false,
    bosTokenId: null,
    eosTokenIds: eos,
    seq2seq: {
      decoderLayers: family === 't5encoder' ? 0 : (k.num('num_decoder_layers') ?? nLayers),
      buckets: k.need('relative_attention_num_buckets'),
      maxDistance: k.num('relative_attention_max_distance') ?? MAX_DISTANCE,
      decoderStartTokenId: k.num('decoder_start_token_id') ?? 0,
      tiedHead: tied,
      encoderOnly: family === 't5encoder',
    },
  };
}

/** The weights of a T5 file under GGUF names; a missing tensor is named in the error. */
export function t5Weights(mf: ModelFile, c: TransformerConfig): T5Weights {
  const s = c.seq2seq;
  if (!s) throw new Error(`tensorloom: ${mf.path}: not an encoder-decoder config`);
  const need = (name: string, what: string) => {
    if (!mf.has(name)) throw new FormatError(`${mf.path}: ${what} tensor '${name}' is missing`);
  };
  const attention = (p: string, what: string): T5AttentionWeights => {
    for (const x of ['q', 'k', 'v', 'o']) need(`${p}_${x}.weight`, what);
    return { q: linear(mf, `${p}_q`), k: linear(mf, `${p}_k`), v: linear(mf, `${p}_v`), o: linear(mf, `${p}_o`) };
  };
  const ffn = (p: string, what: string): T5FeedForwardWeights => {
    need(`${p}.ffn_up.weight`, what);
    need(`${p}.ffn_down.weight`, what);
    return { gate: mf.has(`${p}.ffn_gate.weight`) ? linear(mf, `${p}.ffn_gate`) : null, up: linear(mf, `${p}.ffn_up`), down: linear(mf, `${p}.ffn_down`) };
  };
  const normOf = (name: string, what: string): NormWeights => {
    need(`${name}.weight`, what);
    return norm(mf, name);
  };
  const encoderLayers: T5EncoderLayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `enc.blk.${i}`;
    encoderLayers.push({ attnNorm: normOf(`${p}.attn_norm`, 'encoder'), attn: attention(`${p}.attn`, 'encoder'), ffnNorm: normOf(`${p}.ffn_norm`, 'encoder'), ffn: ffn(p, 'encoder') });
  }
  need('token_embd.weight', 'token embedding');
  need('enc.blk.0.attn_rel_b.weight', 'encoder relative position bias');
  const tokenEmbedding = mf.weights('token_embd.weight');
  const base = { tokenEmbedding, encoderBias: mf.vector('enc.blk.0.attn_rel_b.weight'), encoderLayers, encoderNorm: normOf('enc.output_norm', 'encoder') };
  if (s.encoderOnly) return { ...base, decoder: null };
  if (s.decoderLayers < 1) throw new FormatError(`${mf.path}: an encoder-decoder with no decoder layers (t5.decoder_block_count = 0)`);
  const layers: T5DecoderLayerWeights[] = [];
  for (let i = 0; i < s.decoderLayers; i++) {
    const p = `dec.blk.${i}`;
    layers.push({
      attnNorm: normOf(`${p}.attn_norm`, 'decoder'), attn: attention(`${p}.attn`, 'decoder'),
      crossNorm: normOf(`${p}.cross_attn_norm`, 'decoder'), cross: attention(`${p}.cross_attn`, 'decoder'),
      ffnNorm: normOf(`${p}.ffn_norm`, 'decoder'), ffn: ffn(p, 'decoder'),
    });
  }
  need('dec.blk.0.attn_rel_b.weight', 'decoder relative position bias');
  const lmHead = s.tiedHead || !mf.has('output.weight') ? tokenEmbedding : mf.weights('output.weight');
  return { ...base, decoder: { bias: mf.vector('dec.blk.0.attn_rel_b.weight'), layers, norm: normOf('dec.output_norm', 'decoder'), lmHead } };
}

/** HF T5 names → GGUF names (gguf-py's tensor map for MODEL_ARCH.T5). */
function hfTensorName(name: string): TensorRename | null {
  if (name === 'shared.weight') return { name: 'token_embd.weight' };
  if (name === 'lm_head.weight') return { name: 'output.weight' };
  if (name === 'encoder.final_layer_norm.weight') return { name: 'enc.output_norm.weight' };
  if (name === 'decoder.final_layer_norm.weight') return { name: 'dec.output_norm.weight' };
  const m = /^(encoder|decoder)\.block\.(\d+)\.layer\.(\d)\.(.+)\.weight$/.exec(name);
  if (!m) return null; // encoder/decoder.embed_tokens: copies of shared
  const [, stack, i, sub, rest] = m;
  const enc = stack === 'encoder';
  const p = `${enc ? 'enc' : 'dec'}.blk.${i}`;
  const ffnSub = enc ? '1' : '2';
  const attn = /^(SelfAttention|EncDecAttention)\.(q|k|v|o|relative_attention_bias)$/.exec(rest!);
  if (attn) {
    const cross = attn[1] === 'EncDecAttention';
    if (cross !== (sub === '1') || (cross && enc) || (!cross && sub !== '0')) return null;
    const part = attn[2] === 'relative_attention_bias' ? 'rel_b' : attn[2];
    return { name: `${p}.${cross ? 'cross_attn' : 'attn'}_${part}.weight` };
  }
  if (rest === 'layer_norm') {
    if (sub === '0') return { name: `${p}.attn_norm.weight` };
    if (sub === ffnSub) return { name: `${p}.ffn_norm.weight` };
    if (!enc && sub === '1') return { name: `${p}.cross_attn_norm.weight` };
    return null;
  }
  const ff = /^DenseReluDense\.(wi|wi_0|wi_1|wo)$/.exec(rest!);
  if (ff && sub === ffnSub) return { name: `${p}.${{ wi: 'ffn_up', wi_0: 'ffn_gate', wi_1: 'ffn_up', wo: 'ffn_down' }[ff[1] as 'wi']}.weight` };
  return null;
}

function ggufMetadata(arch: 't5' | 't5encoder', c: TransformerConfig): [string, GGUFWriteValue][] {
  const s = c.seq2seq!;
  const k = (x: string) => `${arch}.${x}`;
  const meta: [string, GGUFWriteValue][] = [
    [k('context_length'), u32(c.contextLength)],
    [k('embedding_length'), u32(c.dim)],
    [k('feed_forward_length'), u32(c.hiddenDim)],
    [k('block_count'), u32(c.nLayers)],
  ];
  if (arch === 't5') meta.push([k('decoder_block_count'), u32(s.decoderLayers)]);
  meta.push(
    [k('attention.head_count'), u32(c.nHeads)],
    [k('attention.key_length'), u32(c.headDim)],
    [k('attention.value_length'), u32(c.headDim)],
    [k('attention.layer_norm_epsilon'), f32(c.normEps)],
    [k('attention.relative_buckets_count'), u32(s.buckets)],
    [k('attention.layer_norm_rms_epsilon'), f32(c.normEps)],
  );
  if (arch === 't5') meta.push([k('decoder_start_token_id'), u32(s.decoderStartTokenId)]);
  return meta;
}

function notADecoder(): never {
  throw new Error('tensorloom: T5 is an encoder-decoder: it runs through EncoderDecoder (ts/models/encoder-decoder.ts), not the decoder-only Transformer');
}

export const t5: Architecture = {
  family: 't5',
  gguf: ['t5'],
  huggingface: ['T5ForConditionalGeneration', 'T5WithLMHeadModel', 't5'],
  ggufName: 't5',
  permuteQK: false,
  config: (mf) => t5Config(mf, 't5'),
  hfTensorName,
  weights: notADecoder,
  ggufMetadata: (c) => ggufMetadata('t5', c),
};

export const t5encoder: Architecture = {
  family: 't5encoder',
  gguf: ['t5encoder'],
  huggingface: ['T5EncoderModel'],
  ggufName: 't5encoder',
  permuteQK: false,
  config: (mf) => t5Config(mf, 't5encoder'),
  hfTensorName,
  weights: notADecoder,
  ggufMetadata: (c) => ggufMetadata('t5encoder', c),
};
