/**
 * The Llama family (Llama 1/2/3, TinyLlama, SmolLM, Mistral-style, Qwen2 with its QKV biases):
 * RMSNorm, RoPE, grouped-query attention, SwiGLU. Reads the canonical (GGUF) tensor names that
 * every model file is presented under (see ts/formats/model-file.ts).
 */
import type { ModelFile } from '../formats/model-file.js';
import type { LayerWeights, TransformerWeights } from './weights.js';
import { linear, norm } from './weights.js';

export function llamaWeights(mf: ModelFile, nLayers: number): TransformerWeights {
  const layers: LayerWeights[] = [];
  for (let i = 0; i < nLayers; i++) {
    const p = `blk.${i}`;
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      q: linear(mf, `${p}.attn_q`),
      k: linear(mf, `${p}.attn_k`),
      v: linear(mf, `${p}.attn_v`),
      o: linear(mf, `${p}.attn_output`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      gate: linear(mf, `${p}.ffn_gate`),
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
