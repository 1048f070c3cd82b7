/**
 * qwen3: Qwen3 dense models (GGUF `qwen3`, HF Qwen3ForCausalLM). A Llama block without QKV biases
 * whose q and k are RMS-normalized per head (attn_q_norm / attn_k_norm, weights of headDim) before
 * NEOX ("half") RoPE; the head dimension is its own key (attention.key_length / head_dim).
 */
import { configFromGGUF, configFromHF, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { decoderWeights } from './llama.js';
import { norm } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };
const QK_NORM = { 'self_attn.q_norm': 'attn_q_norm', 'self_attn.k_norm': 'attn_k_norm' };

export const qwen3: Architecture = {
  family: 'qwen3',
  gguf: ['qwen3'],
  huggingface: ['Qwen3ForCausalLM', 'qwen3'],
  ggufName: 'qwen3',
  permuteQK: false,
  config: (mf) => ({ ...(mf.gguf ? configFromGGUF(mf, 'qwen3', RECIPE) : configFromHF(mf, 'qwen3', RECIPE)), qkNorm: true }),
  hfTensorName: (name) => llamaStyleHfName(name, QK_NORM),
  weights(mf, c) {
    const w = decoderWeights(mf, c);
    w.layers.forEach((l, i) => {
      l.qNorm = norm(mf, `blk.${i}.attn_q_norm`);
      l.kNorm = norm(mf, `blk.${i}.attn_k_norm`);
    });
    return w;
  },
  ggufMetadata: (c) => standardGGUFMetadata('qwen3', c),
};
