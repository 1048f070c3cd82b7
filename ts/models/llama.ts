/**
 * llama: Llama 1/2/3 (RoPE scaling: Llama 3 rope_freqs, linear, YaRN), TinyLlama, SmolLM, Mistral,
 * Mixtral (GGUF `llama` / `mistral` with `expert_count`; HF LlamaForCausalLM, MistralForCausalLM,
 * MixtralForCausalLM) and llama2.c .bin files. Pre-norm RMSNorm, RoPE, grouped-query attention,
 * SwiGLU or a sparse mixture of SwiGLU experts. llama.cpp's converter permutes the HF Q/K rows to
 * the interleaved RoPE layout.
 */
import type { ModelFile } from '../formats/model-file.js';
import { u32 } from '../formats/gguf-writer.js';
import { configFromGGUF, configFromHF, GGUFKeys, HFKeys, llamaStyleHfName, ropeExtraTensors, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { expertHfName, expertWeights, moeFromGGUF, moeFromHF } from './experts.js';
import type { TransformerConfig } from './config.js';
import type { LayerWeights, TransformerWeights } from './weights.js';
import { linear, norm } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'interleaved' };

export const llama: Architecture = {
  family: 'llama',
  gguf: ['llama', 'mistral'],
  huggingface: ['LlamaForCausalLM', 'MistralForCausalLM', 'MixtralForCausalLM', 'llama', 'mistral', 'mixtral'],
  ggufName: 'llama',
  permuteQK: true,
  config(mf) {
    if (mf.format === 'llama2c') return llama2cConfig(mf);
    if (mf.gguf) {
      const c = configFromGGUF(mf, 'llama', RECIPE);
      const moe = moeFromGGUF(new GGUFKeys(mf), c.hiddenDim);
      return moe ? { ...c, moe } : c;
    }
    const c = configFromHF(mf, 'llama', RECIPE);
    const moe = moeFromHF(new HFKeys(mf), c.hiddenDim);
    return moe ? { ...c, moe } : c;
  },
  hfTensorName: (name) => llamaStyleHfName(name) ?? expertHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => [...standardGGUFMetadata('llama', c), ...moeGGUFMetadata('llama', c)],
  extraTensors: ropeExtraTensors,
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
  const countKey = mf.gguf ? `${mf.architecture}.expert_count` : 'the config.json expert count';
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    if (c.moe) {
      layers.push({
        attnNorm: norm(mf, `${p}.attn_norm`),
        q: linear(mf, `${p}.attn_q`),
        k: linear(mf, `${p}.attn_k`),
        v: linear(mf, `${p}.attn_v`),
        o: linear(mf, `${p}.attn_output`),
        mlpNorm: norm(mf, `${p}.ffn_norm`),
        gate: null,
        up: null,
        down: null,
        experts: expertWeights(mf, i, c, countKey),
      });
      continue;
    }
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      q: linear(mf, `${p}.attn_q`),
      k: linear(mf, `${p}.attn_k`),
      v: linear(mf, `${p}.attn_v`),
      o: linear(mf, `${p}.attn_output`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      gate: c.mlp !== 'gelu' ? linear(mf, `${p}.ffn_gate`) : null,
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

/** expert_count / expert_used_count for a mixture-of-experts config (nothing for dense models). */
export function moeGGUFMetadata(arch: string, c: TransformerConfig): [string, ReturnType<typeof u32>][] {
  if (!c.moe) return [];
  return [[`${arch}.expert_count`, u32(c.moe.experts)], [`${arch}.expert_used_count`, u32(c.moe.used)]];
}
