/**
 * nomic-bert (GGUF `nomic-bert`, HF NomicBertModel: nomic-embed-text): BERT's post-norm encoder
 * with rotary positions instead of a position table (NEOX / rotate-half layout, as llama.cpp runs
 * it), a fused QKV projection, and a SwiGLU MLP without biases (silu(gate·x) ⊙ up·x).
 */
import { FormatError } from '../formats/byte-source.js';
import { metaNumber } from '../formats/gguf.js';
import { u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { TensorRename } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { POOLING_TYPES, poolingFromGGUF, poolingFromHF } from './bert.js';
import type { EncoderWeights, LayerWeights, LinearWeights } from './weights.js';
import { linear, norm, sliceRows } from './weights.js';

const RECIPE: Recipe = { norm: 'layernorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

export const nomicBert: Architecture = {
  family: 'nomic-bert',
  gguf: ['nomic-bert'],
  huggingface: ['NomicBertModel', 'nomic_bert'],
  ggufName: 'nomic-bert',
  permuteQK: false,
  config(mf) {
    if (mf.gguf) {
      const c = configFromGGUF(mf, 'nomic-bert', RECIPE);
      const types = metaNumber(mf.gguf, 'tokenizer.ggml.token_type_count') ?? 0;
      return { ...c, encoder: { causal: false, postNorm: true, tokenTypes: types, pooling: poolingFromGGUF(mf), classifierLabels: [], positionOffset: 0 } };
    }
    const c = configFromHF(mf, 'nomic-bert', RECIPE);
    const h = mf.hfConfig ?? {};
    return {
      ...c,
      normEps: typeof h.layer_norm_epsilon === 'number' ? h.layer_norm_epsilon : 1e-12,
      encoder: { causal: false, postNorm: true, tokenTypes: typeof h.type_vocab_size === 'number' ? h.type_vocab_size : 0, pooling: poolingFromHF(mf.path), classifierLabels: [], positionOffset: 0 },
    };
  },
  hfTensorName,
  weights() {
    throw new Error('tensorloom: nomic-bert is an encoder (an embedding model): use embed(), not generate()');
  },
  encoderWeights(mf, c): EncoderWeights {
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blk.${i}`;
      let q: LinearWeights, k: LinearWeights, v: LinearWeights;
      if (mf.has(`${p}.attn_qkv.weight`)) {
        const qkv = linear(mf, `${p}.attn_qkv`);
        if (qkv.weight.rows !== qDim + 2 * kvDim) throw new FormatError(`${mf.path}: ${p}.attn_qkv.weight has ${qkv.weight.rows} rows, expected ${qDim + 2 * kvDim}`);
        const part = (a: number, b: number): LinearWeights => ({ weight: sliceRows(qkv.weight, a, b), bias: qkv.bias ? qkv.bias.subarray(a, b) : null });
        [q, k, v] = [part(0, qDim), part(qDim, qDim + kvDim), part(qDim + kvDim, qDim + 2 * kvDim)];
      } else {
        [q, k, v] = [linear(mf, `${p}.attn_q`), linear(mf, `${p}.attn_k`), linear(mf, `${p}.attn_v`)];
      }
      // llama.cpp runs nomic-bert's SwiGLU without biases (the checkpoints have none)
      const bare = (name: string): LinearWeights => ({ weight: mf.weights(`${name}.weight`), bias: null });
      layers.push({
        attnNorm: norm(mf, `${p}.attn_output_norm`),
        q, k, v,
        o: linear(mf, `${p}.attn_output`),
        mlpNorm: norm(mf, `${p}.layer_output_norm`),
        gate: bare(`${p}.ffn_gate`),
        up: bare(`${p}.ffn_up`),
        down: bare(`${p}.ffn_down`),
      });
    }
    return {
      tokenEmbedding: mf.weights('token_embd.weight'),
      positionEmbedding: null,
      tokenTypeEmbedding: mf.has('token_types.weight') ? mf.weights('token_types.weight') : null,
      embeddingNorm: norm(mf, 'token_embd_norm'),
      layers,
      finalNorm: null,
      classifier: null,
    };
  },
  ggufMetadata(c): [string, GGUFWriteValue][] {
    const meta = standardGGUFMetadata('nomic-bert', c);
    meta.push(['nomic-bert.attention.causal', false]);
    const pooling = c.encoder?.pooling;
    if (pooling) meta.push(['nomic-bert.pooling_type', u32(POOLING_TYPES.indexOf(pooling))]);
    return meta;
  },
};

function hfTensorName(name: string): TensorRename | null {
  const fixed: Record<string, string> = {
    'embeddings.word_embeddings.weight': 'token_embd.weight',
    'embeddings.token_type_embeddings.weight': 'token_types.weight',
    'emb_ln.weight': 'token_embd_norm.weight',
    'emb_ln.bias': 'token_embd_norm.bias',
  };
  if (fixed[name]) return { name: fixed[name]! };
  const m = /^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const parts: Record<string, string> = {
    'attn.Wqkv': 'attn_qkv', 'attn.out_proj': 'attn_output', norm1: 'attn_output_norm', norm2: 'layer_output_norm',
    'mlp.fc11': 'ffn_up', 'mlp.fc12': 'ffn_gate', 'mlp.fc2': 'ffn_down',
  };
  const part = parts[m[2]!];
  return part ? { name: `blk.${m[1]}.${part}.${m[3]}` } : null;
}
