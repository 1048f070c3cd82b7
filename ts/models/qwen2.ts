/**
 * qwen2: Qwen2 / Qwen2.5 (GGUF `qwen2`, HF Qwen2ForCausalLM). A Llama block whose Q/K/V projections
 * carry biases; llama.cpp runs it with NEOX ("half") RoPE, so Q/K rows are never permuted.
 */
import { configFromGGUF, configFromHF, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { FormatError } from '../formats/byte-source.js';
import type { ModelFile } from '../formats/model-file.js';
import { decoderWeights } from './llama.js';
import type { TransformerWeights } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

export const qwen2: Architecture = {
  family: 'qwen2',
  gguf: ['qwen2'],
  huggingface: ['Qwen2ForCausalLM', 'qwen2'],
  ggufName: 'qwen2',
  permuteQK: false,
  config: (mf) => (mf.gguf ? configFromGGUF(mf, 'qwen2', RECIPE) : configFromHF(mf, 'qwen2', RECIPE)),
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => withQkvBiases(mf, decoderWeights(mf, c)),
  ggufMetadata: (c) => standardGGUFMetadata('qwen2', c),
};

/** Qwen2 projects q, k and v with biases (llama.cpp requires all three): a missing one is named. */
function withQkvBiases(mf: ModelFile, w: TransformerWeights): TransformerWeights {
  w.layers.forEach((l, i) => {
    if (!('q' in l)) return;
    for (const [part, lw] of [['attn_q', l.q], ['attn_k', l.k], ['attn_v', l.v]] as const) {
      if (!lw.bias) throw new FormatError(`${mf.path}: tensor 'blk.${i}.${part}.bias' is missing (qwen2 projects q, k and v with biases)`);
    }
  });
  return w;
}
