/**
 * GPT-2: LayerNorm, learned absolute positions, a fused QKV projection, GELU (tanh
 * approximation), biases everywhere, and an LM head tied to the token embedding unless the file
 * has its own. Hugging Face's Conv1D `[in, out]` weights arrive already transposed to `[out, in]`
 * from the model file view; the fused QKV matrix is split into three row ranges without copying.
 */
import type { ModelFile } from '../formats/model-file.js';
import type { LayerWeights, LinearWeights, TransformerWeights } from './weights.js';
import { linear, norm, sliceRows } from './weights.js';

export function gpt2Weights(mf: ModelFile, nLayers: number, dim: number): TransformerWeights {
  const layers: LayerWeights[] = [];
  for (let i = 0; i < nLayers; i++) {
    const p = `blk.${i}`;
    const qkv = linear(mf, `${p}.attn_qkv`);
    if (qkv.weight.rows !== 3 * dim) {
      throw new RangeError(`tensorloom: ${mf.path}: ${p}.attn_qkv.weight has ${qkv.weight.rows} rows, expected ${3 * dim} (q, k, v of width ${dim})`);
    }
    if (qkv.bias && qkv.bias.length !== 3 * dim) throw new RangeError(`tensorloom: ${mf.path}: ${p}.attn_qkv.bias has ${qkv.bias.length} elements, expected ${3 * dim}`);
    const part = (j: number): LinearWeights => ({
      weight: sliceRows(qkv.weight, j * dim, (j + 1) * dim),
      bias: qkv.bias ? qkv.bias.subarray(j * dim, (j + 1) * dim) : null,
    });
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      q: part(0),
      k: part(1),
      v: part(2),
      o: linear(mf, `${p}.attn_output`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      gate: null,
      up: linear(mf, `${p}.ffn_up`),
      down: linear(mf, `${p}.ffn_down`),
    });
  }
  const tokenEmbedding = mf.weights('token_embd.weight');
  return {
    tokenEmbedding,
    positionEmbedding: mf.weights('position_embd.weight'),
    layers,
    finalNorm: norm(mf, 'output_norm'),
    lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding,
  };
}
