/**
 * qwen3moe: Qwen3 mixture-of-experts models such as Qwen3-30B-A3B (GGUF `qwen3moe`, HF
 * Qwen3MoeForCausalLM). Qwen3's attention (per-head q/k RMSNorm, NEOX RoPE) with a sparse MoE FFN
 * in every layer: softmax router, top-k experts, renormalized weights (llama.cpp always
 * renormalizes for this family), experts of width expert_feed_forward_length.
 */
import { u32 } from '../formats/gguf-writer.js';
import { configFromGGUF, configFromHF, GGUFKeys, HFKeys, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { expertHfName, moeFromGGUF, moeFromHF } from './experts.js';
import { moeGGUFMetadata } from './llama.js';
import { qwen3 } from './qwen3.js';
import { FormatError } from '../formats/byte-source.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

export const qwen3moe: Architecture = {
  family: 'qwen3moe',
  gguf: ['qwen3moe'],
  huggingface: ['Qwen3MoeForCausalLM', 'qwen3_moe'],
  ggufName: 'qwen3moe',
  permuteQK: false,
  config(mf) {
    const c = mf.gguf ? configFromGGUF(mf, 'qwen3moe', RECIPE) : configFromHF(mf, 'qwen3moe', RECIPE);
    const moe = mf.gguf ? moeFromGGUF(new GGUFKeys(mf), c.hiddenDim, 'expert_feed_forward_length') : moeFromHF(new HFKeys(mf), c.hiddenDim);
    if (!moe) throw new FormatError(`${mf.path}: a qwen3moe model needs ${mf.gguf ? 'qwen3moe.expert_count' : 'num_experts'}`);
    return { ...c, qkNorm: true, moe };
  },
  hfTensorName: (name) => qwen3.hfTensorName(name) ?? llamaStyleHfName(name) ?? expertHfName(name),
  weights: (mf, c) => qwen3.weights(mf, c),
  ggufMetadata: (c) => [
    ...standardGGUFMetadata('qwen3moe', c),
    ...moeGGUFMetadata('qwen3moe', c),
    ...(c.moe ? ([['qwen3moe.expert_feed_forward_length', u32(c.moe.hiddenDim)]] as [string, ReturnType<typeof u32>][]) : []),
  ],
};
