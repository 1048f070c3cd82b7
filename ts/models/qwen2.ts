/**
 * qwen2: Qwen2 / Qwen2.5 (GGUF `qwen2`, HF Qwen2ForCausalLM). A Llama block whose Q/K/V projections
 * carry biases; llama.cpp runs it with NEOX ("half") RoPE, so Q/K rows are never permuted.
 */
import { configFromGGUF, configFromHF, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { decoderWeights } from './llama.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

export const qwen2: Architecture = {
  family: 'qwen2',
  gguf: ['qwen2'],
  huggingface: ['Qwen2ForCausalLM', 'qwen2'],
  ggufName: 'qwen2',
  permuteQK: false,
  config: (mf) => (mf.gguf ? configFromGGUF(mf, 'qwen2', RECIPE) : configFromHF(mf, 'qwen2', RECIPE)),
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => standardGGUFMetadata('qwen2', c),
};
