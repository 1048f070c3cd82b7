/**
 * gpt2 (GGUF `gpt2`, HF GPT2LMHeadModel): LayerNorm, learned absolute positions, a fused QKV
 * projection, GELU (tanh approximation), biases everywhere, and an LM head tied to the token
 * embedding unless the file has its own. HF's Conv1D `[in, out]` weights are read transposed; the
 * fused QKV matrix is split into three row ranges without copying.
 */
import type { TensorRename } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { LayerWeights, LinearWeights, TransformerWeights } from './weights.js';
import { linear, norm, sliceRows } from './weights.js';

const RECIPE: Recipe = { norm: 'layernorm', mlp: 'gelu', positions: 'learned', ggufRopeLayout: 'interleaved' };

export const gpt2: Architecture = {
  family: 'gpt2',
  gguf: ['gpt2'],
  huggingface: ['GPT2LMHeadModel', 'gpt2'],
  ggufName: 'gpt2',
  permuteQK: false,
  config: (mf) => (mf.gguf ? configFromGGUF(mf, 'gpt2', RECIPE) : configFromHF(mf, 'gpt2', RECIPE)),
  hfTensorName,
  weights(mf, c) {
    const dim = c.dim;
    const layers: LayerWeights[] = [];
    for (let i = 0; i < c.nLayers; i++) {
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
        qkv,
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
    } satisfies TransformerWeights;
  },
  ggufMetadata: (c) => standardGGUFMetadata('gpt2', c),
};

function hfTensorName(name: string): TensorRename | null {
  const n = name.replace(/^transformer\./, '');
  const fixed: Record<string, string> = {
    'wte.weight': 'token_embd.weight', 'wpe.weight': 'position_embd.weight',
    'ln_f.weight': 'output_norm.weight', 'ln_f.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight',
  };
  if (fixed[n]) return { name: fixed[n]! };
  const m = /^h\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
  if (!m) return null;
  const part: Record<string, string> = {
    ln_1: 'attn_norm', ln_2: 'ffn_norm', 'attn.c_attn': 'attn_qkv', 'attn.c_proj': 'attn_output', 'mlp.c_fc': 'ffn_up', 'mlp.c_proj': 'ffn_down',
  };
  const p = part[m[2]!];
  if (!p) return null; // attn.bias / attn.masked_bias buffers
  const isConv1D = m[3] === 'weight' && m[2]!.includes('.');
  return { name: `blk.${m[1]}.${p}.${m[3]}`, ...(isConv1D ? { transposed: true } : {}) };
}
