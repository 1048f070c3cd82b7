/**
 * llama: Llama 1/2/3, TinyLlama, SmolLM, Mistral (GGUF `llama` / `mistral`, HF LlamaForCausalLM /
 * MistralForCausalLM) and llama2.c .bin files. Pre-norm RMSNorm, RoPE, grouped-query attention,
 * SwiGLU. llama.cpp's converter permutes the HF Q/K rows to the interleaved RoPE layout.
 */
import type { ModelFile } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { TransformerConfig } from './config.js';
import type { LayerWeights, TransformerWeights } from './weights.js';
import { linear, norm } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'interleaved' };

export const llama: Architecture = {
  family: 'llama',
  gguf: ['llama', 'mistral'],
  huggingface: ['LlamaForCausalLM', 'MistralForCausalLM', 'llama', 'mistral'],
  ggufName: 'llama',
  permuteQK: true,
  config(mf) {
    if (mf.format === 'llama2c') return llama2cConfig(mf);
    return mf.gguf ? configFromGGUF(mf, 'llama', RECIPE) : configFromHF(mf, 'llama', RECIPE);
  },
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => standardGGUFMetadata('llama', c),
};

/** llama2.c's header: run.c's fixed eps and θ, interleaved RoPE, ids 1/2 for BOS/EOS. */
function llama2cConfig(mf: ModelFile): TransformerConfig {
  const h = mf.llama2c!;
  return {
    family: 'llama',
    architecture: 'llama2.c',
    vocabSize: h.vocabSize,
    dim: h.dim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    headDim: h.dim / h.nHeads,
    hiddenDim: h.hiddenDim,
    contextLength: h.seqLen,
    norm: 'rmsnorm',
    normEps: 1e-5, // run.c's rmsnorm
    mlp: 'swiglu',
    rope: { theta: 10000, layout: 'interleaved' },
    qkvBias: false,
    outBias: false,
    bosTokenId: 1,
    eosTokenIds: [2],
  };
}

/**
 * The weights of a decoder with separate q/k/v and (SwiGLU) gate/up/down projections under GGUF
 * names; shared by the Llama-like families.
 */
export function decoderWeights(mf: ModelFile, c: TransformerConfig): TransformerWeights {
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      q: linear(mf, `${p}.attn_q`),
      k: linear(mf, `${p}.attn_k`),
      v: linear(mf, `${p}.attn_v`),
      o: linear(mf, `${p}.attn_output`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      gate: c.mlp === 'swiglu' ? linear(mf, `${p}.ffn_gate`) : null,
      up: linear(mf, `${p}.ffn_up`),
      down: linear(mf, `${p}.ffn_down`),
    });
  }
  const tokenEmbedding = mf.weights('token_embd.weight');
  return {
    tokenEmbedding,
    positionEmbedding: null,
    layers,
    finalNorm: norm(mf, 'output_norm'),
    lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding,
  };
}
