/**
 * phi3: Phi-3 / Phi-3.5 / Phi-4-mini (GGUF `phi3`, HF Phi3ForCausalLM), as llama.cpp runs them:
 * a Llama block with
 * - Q, K, V as one fused matrix (attn_qkv, rows [q | k | v]; HF qkv_proj) and gate and up as one
 *   (ffn_up of 2 × FFN rows, gate first; HF gate_up_proj), both used without a copy;
 * - NEOX ("half") RoPE over rope.dimension_count dims (Phi-4-mini's partial rotary factor);
 * - LongRoPE ("su"): per-pair divisors rope_factors_long / rope_factors_short (HF long_factor /
 *   short_factor) and a cos/sin magnitude rope.scaling.attn_factor, √(1 + ln s / ln n₀) for
 *   s = context / original context n₀. The long factors serve every position when the trained
 *   context exceeds n₀ (rope.scaling.original_context_length); llama.cpp picks them by its runtime
 *   context instead, so it uses the short ones at -c ≤ n₀ (see ./transformer.ts).
 * A declared sliding window is ignored, as llama.cpp does for this family.
 */
import { FormatError } from '../formats/byte-source.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, GGUFKeys, HFKeys, llamaStyleHfName, type Architecture, type Recipe } from './architecture.js';
import type { TransformerConfig } from './config.js';
import type { LayerWeights, TransformerWeights } from './weights.js';
import { linear, norm, sliceRows } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };
const PARTS = { 'self_attn.qkv_proj': 'attn_qkv', 'mlp.gate_up_proj': 'ffn_up' };

/** LongRoPE's magnitude for a model extended from `original` to `context` positions (llama.cpp's converter). */
export function longRopeAttnFactor(context: number, original: number): number {
  const s = context / original;
  return s > 1 ? Math.sqrt(1 + Math.log(s) / Math.log(original)) : 1;
}

function factors(v: unknown, n: number, what: string, where: string): Float32Array {
  if (!Array.isArray(v) || v.length !== n || v.some((x) => typeof x !== 'number')) {
    throw new FormatError(`${where}: ${what} must be ${n} numbers (rotary dims / 2), got ${Array.isArray(v) ? `${v.length} entries` : typeof v}`);
  }
  return Float32Array.from(v as number[]);
}

function phi3Config(mf: ModelFile): TransformerConfig {
  if (mf.gguf) {
    const c = configFromGGUF(mf, 'phi3', RECIPE);
    const k = new GGUFKeys(mf);
    if (!mf.has('rope_factors_long.weight')) return c;
    const half = (c.rope?.dims ?? c.headDim) / 2;
    const read = (name: string): Float32Array => {
      if (!mf.has(name)) throw new FormatError(`${k.where}: ${name} is missing (rope_factors_long.weight is there)`);
      const v = mf.vector(name);
      if (v.length !== half) throw new FormatError(`${k.where}: ${name} has ${v.length} elements, expected ${half} (rope.dimension_count / 2)`);
      return v;
    };
    const originalContext = k.num('rope.scaling.original_context_length') ?? c.contextLength;
    return { ...c, longRope: { long: read('rope_factors_long.weight'), short: read('rope_factors_short.weight'), originalContext, attnFactor: k.num('rope.scaling.attn_factor') ?? 1 } };
  }
  const k = new HFKeys(mf);
  const raw = (k.cfg.rope_scaling ?? k.cfg.rope_parameters) as Record<string, unknown> | null | undefined;
  const type = String(raw?.rope_type ?? raw?.type ?? 'default');
  const isLong = type === 'longrope' || type === 'su';
  // configFromHF refuses rope_scaling types it does not know: read the rest without it
  const view = isLong ? Object.assign(Object.create(mf) as ModelFile, { hfConfig: { ...k.cfg, rope_scaling: null, rope_parameters: null } }) : mf;
  const c = configFromHF(view, 'phi3', RECIPE);
  if (!isLong || !raw) return c;
  const half = (c.rope?.dims ?? c.headDim) / 2;
  const originalContext = k.num('original_max_position_embeddings') ?? (typeof raw.original_max_position_embeddings === 'number' ? raw.original_max_position_embeddings : c.contextLength);
  return {
    ...c,
    longRope: {
      long: factors(raw.long_factor, half, 'rope_scaling.long_factor', k.where),
      short: factors(raw.short_factor, half, 'rope_scaling.short_factor', k.where),
      originalContext,
      attnFactor: longRopeAttnFactor(c.contextLength, originalContext),
    },
  };
}

function phi3Weights(mf: ModelFile, c: TransformerConfig): TransformerWeights {
  const qDim = c.nHeads * c.headDim;
  const kvDim = c.nKvHeads * c.headDim;
  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    let qkv = null;
    let q;
    let kk;
    let v;
    if (mf.has(`${p}.attn_qkv.weight`)) {
      qkv = linear(mf, `${p}.attn_qkv`);
      if (qkv.weight.rows !== qDim + 2 * kvDim || qkv.weight.cols !== c.dim) {
        throw new FormatError(`${mf.path}: ${p}.attn_qkv.weight is [${qkv.weight.rows}, ${qkv.weight.cols}], expected [${qDim + 2 * kvDim}, ${c.dim}]`);
      }
      const part = (r0: number, r1: number) => ({ weight: sliceRows(qkv!.weight, r0, r1), bias: qkv!.bias ? qkv!.bias.subarray(r0, r1) : null });
      q = part(0, qDim);
      kk = part(qDim, qDim + kvDim);
      v = part(qDim + kvDim, qDim + 2 * kvDim);
    } else {
      q = linear(mf, `${p}.attn_q`);
      kk = linear(mf, `${p}.attn_k`);
      v = linear(mf, `${p}.attn_v`);
    }
    const gateUp = linear(mf, `${p}.ffn_up`);
    if (gateUp.weight.rows !== 2 * c.hiddenDim || gateUp.weight.cols !== c.dim) {
      throw new FormatError(`${mf.path}: ${p}.ffn_up.weight is [${gateUp.weight.rows}, ${gateUp.weight.cols}], expected [${2 * c.hiddenDim}, ${c.dim}] (gate and up fused)`);
    }
    const F = c.hiddenDim;
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      qkv,
      q,
      k: kk,
      v,
      o: linear(mf, `${p}.attn_output`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      gateUp,
      gate: { weight: sliceRows(gateUp.weight, 0, F), bias: null },
      up: { weight: sliceRows(gateUp.weight, F, 2 * F), bias: null },
      down: linear(mf, `${p}.ffn_down`),
    });
  }
  const tokenEmbedding = mf.weights('token_embd.weight');
  return { tokenEmbedding, positionEmbedding: null, layers, finalNorm: norm(mf, 'output_norm'), lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding };
}

export const phi3: Architecture = {
  family: 'phi3',
  gguf: ['phi3'],
  huggingface: ['Phi3ForCausalLM', 'phi3'],
  ggufName: 'phi3',
  permuteQK: false,
  config: phi3Config,
  hfTensorName: (name) => llamaStyleHfName(name, PARTS),
  weights: phi3Weights,
  // Phi3MiniModel.set_gguf_parameters
  ggufMetadata(c) {
    const a = (s: string) => `phi3.${s}`;
    const meta: [string, GGUFWriteValue][] = [
      [a('context_length'), u32(c.contextLength)],
      [a('rope.scaling.original_context_length'), u32(c.longRope?.originalContext ?? c.contextLength)],
      [a('embedding_length'), u32(c.dim)],
      [a('feed_forward_length'), u32(c.hiddenDim)],
      [a('block_count'), u32(c.nLayers)],
      [a('attention.head_count'), u32(c.nHeads)],
      [a('attention.head_count_kv'), u32(c.nKvHeads)],
      [a('attention.layer_norm_rms_epsilon'), f32(c.normEps)],
      [a('rope.dimension_count'), u32(c.rope?.dims ?? c.headDim)],
      [a('rope.freq_base'), f32(c.rope?.theta ?? 10000)],
      [a('attention.sliding_window'), u32(0)],
    ];
    if (c.longRope) meta.push([a('rope.scaling.attn_factor'), f32(c.longRope.attnFactor)]);
    return meta;
  },
  extraTensors: (c) => (c.longRope ? [{ name: 'rope_factors_long.weight', data: c.longRope.long }, { name: 'rope_factors_short.weight', data: c.longRope.short }] : []),
};
