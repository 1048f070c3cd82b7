/**
 * qwen35: Qwen3.5 (GGUF `qwen35`), a hybrid decoder as llama.cpp runs it. Three of every four
 * layers (or those `qwen35.attention.recurrent_layers` marks) are Gated DeltaNet linear attention
 * with a per-sequence recurrent state; the others are gated full attention: one projection gives
 * each head's query and output gate side by side, q and k are RMS-normalized per head, partial NEOX
 * RoPE over `rope.dimension_count` dims (M-RoPE's sections coincide for text, where every position
 * component is the token's position), the attention output scaled by sigmoid(gate). Every layer's
 * MLP is SwiGLU after `post_attention_norm`. qwen35moe (below): the same layers with routed experts
 * plus a shared expert scaled by sigmoid(x · ffn_gate_inp_shexp).
 */
import type { Backend, Weights } from '../backend/types.js';
import { FormatError } from '../formats/byte-source.js';
import type { ModelFile } from '../formats/model-file.js';
import { f16ToF32 } from '../backend/js/f16bits.js';
import { GatedDeltaNet } from '../layers/gated-delta-net.js';
import { Linear } from '../layers/linear.js';
import { MLP } from '../layers/mlp.js';
import { GatedAttention, RecurrentMixer, SharedExpertFFN } from '../layers/token-mixer.js';
import { expertWeights, moeFromGGUF } from './experts.js';
import { configFromGGUF, GGUFKeys, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { linear, norm, sliceRows, type MixerLayerWeights, type TransformerWeights } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

/** The Gated DeltaNet shape from the `<arch>.ssm.*` keys. */
export interface DeltaNetShape {
  convKernel: number;
  nKHeads: number;
  nVHeads: number;
  headKDim: number;
  headVDim: number;
}

export function deltaNetShape(mf: ModelFile): DeltaNetShape {
  const k = new GGUFKeys(mf);
  const inner = k.need('ssm.inner_size');
  const nVHeads = k.need('ssm.time_step_rank');
  if (inner % nVHeads !== 0) throw new FormatError(`${k.where}: ${k.key('ssm.inner_size')} (${inner}) is not a multiple of ${k.key('ssm.time_step_rank')} (${nVHeads})`);
  const s = { convKernel: k.need('ssm.conv_kernel'), nKHeads: k.need('ssm.group_count'), nVHeads, headKDim: k.need('ssm.state_size'), headVDim: inner / nVHeads };
  if (s.nVHeads % s.nKHeads !== 0) throw new FormatError(`${k.where}: ${s.nVHeads} value heads (ssm.time_step_rank) are not a multiple of ${s.nKHeads} key heads (ssm.group_count)`);
  return s;
}

/** Which layers are recurrent: `attention.recurrent_layers` if present, else all but every `full_attention_interval`-th. */
export function recurrentLayers(mf: ModelFile, nLayers: number): boolean[] {
  const k = new GGUFKeys(mf);
  const list = mf.gguf!.metadata.get(k.key('attention.recurrent_layers'));
  if (list !== undefined) {
    const arr = Array.isArray(list) || ArrayBuffer.isView(list) ? Array.from(list as ArrayLike<unknown>) : null;
    if (!arr || arr.length < nLayers) throw new FormatError(`${k.where}: ${k.key('attention.recurrent_layers')} must be an array of ${nLayers} flags`);
    return arr.slice(0, nLayers).map((v) => Boolean(v));
  }
  const interval = k.num('full_attention_interval') ?? 4;
  if (!Number.isInteger(interval) || interval < 1) throw new FormatError(`${k.where}: ${k.key('full_attention_interval')} must be a positive integer, got ${interval}`);
  return Array.from({ length: nLayers }, (_, i) => (i + 1) % interval !== 0);
}

function f32Matrix(mf: ModelFile, name: string): Float32Array {
  const w = mf.weights(name);
  if (w.dtype === 'f32') return w.data as Float32Array;
  if (w.dtype === 'f16') return Float32Array.from(w.data as Uint16Array, f16ToF32);
  throw new FormatError(`${mf.path}: ${name} is ${w.dtype}; a conv kernel must be f32 or f16`);
}

/** The rows of a per-head joint [q | gate] projection ([2·H·D, dim]) split into q rows and gate rows. */
function splitQueryGate(w: Weights, H: number, D: number): [Weights, Weights] {
  const parts = (off: number): Weights => {
    const rows = Array.from({ length: H }, (_, h) => sliceRows(w, h * 2 * D + off, h * 2 * D + off + D));
    const per = rows[0]!.data.length;
    const data = new (w.data.constructor as new (n: number) => Float32Array | Uint16Array | Uint8Array)(per * H);
    rows.forEach((r, h) => data.set(r.data, h * per));
    return { dtype: w.dtype, rows: H * D, cols: w.cols, data };
  };
  return [parts(0), parts(D)];
}

export function need(mf: ModelFile, name: string, why: string): void {
  if (!mf.has(name)) throw new FormatError(`${mf.path}: tensor ${name} is missing (${why})`);
}

/** The four input projections of a Gated DeltaNet layer, as [out, dim] matrices. */
export interface DeltaNetProjections {
  /** [q | k | v] rows, [2·Hk·Dk + Hv·Dv, dim]. */
  qkv: Weights;
  /** Output gate z, [Hv·Dv, dim]. */
  gate: Weights;
  /** β and α (decay) rows, one per value head. */
  beta: Weights;
  alpha: Weights;
}

/**
 * What differs between the hybrid families that share these layers (qwen35, qwen35moe, qwen3next):
 * the GGUF architecture name, whether the FFN is routed experts plus a gated shared expert, which
 * key head a value head reads, and how the file stores the DeltaNet input projections.
 */
export interface HybridVariant {
  arch: 'qwen35' | 'qwen35moe' | 'qwen3next';
  moe: boolean;
  keyHeads: 'tiled' | 'grouped';
  /** Reads (or rearranges) layer `p`'s DeltaNet input projections; names a missing tensor. */
  projections(mf: ModelFile, p: string, s: DeltaNetShape, why: string): DeltaNetProjections;
}

/** Qwen3.5's projections: attn_qkv, attn_gate, ssm_beta and ssm_alpha, each its own tensor. */
function separateProjections(mf: ModelFile, p: string, _s: DeltaNetShape, why: string): DeltaNetProjections {
  for (const t of ['attn_qkv', 'attn_gate', 'ssm_beta', 'ssm_alpha']) need(mf, `${p}.${t}.weight`, why);
  const w = (t: string) => mf.weights(`${p}.${t}.weight`);
  return { qkv: w('attn_qkv'), gate: w('attn_gate'), beta: w('ssm_beta'), alpha: w('ssm_alpha') };
}

export function hybridWeights(mf: ModelFile, c: TransformerConfig, v: HybridVariant): TransformerWeights {
  const recurrent = recurrentLayers(mf, c.nLayers);
  const dn = recurrent.some((r) => r) ? deltaNetShape(mf) : null;
  const layers: MixerLayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    let mixer: (b: Backend) => RecurrentMixer | GatedAttention;
    if (recurrent[i]) {
      const s = dn!;
      const why = `layer ${i} is a recurrent (Gated DeltaNet) layer in the file's layer pattern`;
      for (const name of [`${p}.ssm_conv1d.weight`, `${p}.ssm_out.weight`, `${p}.ssm_norm.weight`, `${p}.ssm_a`, `${p}.ssm_dt.bias`]) need(mf, name, why);
      const proj = v.projections(mf, p, s, why);
      const w = {
        out: linear(mf, `${p}.ssm_out`), conv: f32Matrix(mf, `${p}.ssm_conv1d.weight`), dtBias: mf.vector(`${p}.ssm_dt.bias`), a: mf.vector(`${p}.ssm_a`),
        norm: mf.vector(`${p}.ssm_norm.weight`),
      };
      mixer = (b) => {
        const L = (x: Weights) => new Linear(b, x);
        const layer = new GatedDeltaNet(b, {
          qkv: L(proj.qkv), gate: L(proj.gate), beta: L(proj.beta), alpha: L(proj.alpha), out: L(w.out.weight),
          conv: w.conv, convKernel: s.convKernel, dtBias: w.dtBias, a: w.a, norm: w.norm,
          nKHeads: s.nKHeads, nVHeads: s.nVHeads, headKDim: s.headKDim, headVDim: s.headVDim, eps: c.normEps, keyHeads: v.keyHeads,
        });
        return new RecurrentMixer(layer, c.dim);
      };
    } else {
      for (const t of ['attn_q', 'attn_k', 'attn_v', 'attn_output', 'attn_q_norm', 'attn_k_norm']) {
        need(mf, `${p}.${t}.weight`, `layer ${i} is a full-attention layer in the file's layer pattern`);
      }
      const wq = mf.weights(`${p}.attn_q.weight`);
      if (wq.rows !== 2 * c.nHeads * c.headDim) {
        throw new FormatError(`${mf.path}: ${p}.attn_q.weight has ${wq.rows} rows, expected ${2 * c.nHeads * c.headDim} (query and gate for ${c.nHeads} heads of ${c.headDim})`);
      }
      const [q, gate] = splitQueryGate(wq, c.nHeads, c.headDim);
      const w = { k: mf.weights(`${p}.attn_k.weight`), v: mf.weights(`${p}.attn_v.weight`), o: mf.weights(`${p}.attn_output.weight`), qn: mf.vector(`${p}.attn_q_norm.weight`), kn: mf.vector(`${p}.attn_k_norm.weight`) };
      mixer = (b) =>
        new GatedAttention(b, {
          q: new Linear(b, q), gate: new Linear(b, gate), k: new Linear(b, w.k), v: new Linear(b, w.v), o: new Linear(b, w.o),
          qNorm: w.qn, kNorm: w.kn, eps: c.normEps, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.headDim, rope: c.rope!,
        });
    }
    need(mf, `${p}.post_attention_norm.weight`, `layer ${i}'s norm before the MLP`);
    const base = { attnNorm: norm(mf, `${p}.attn_norm`), mixer, mlpNorm: norm(mf, `${p}.post_attention_norm`) };
    if (!v.moe) {
      layers.push({ ...base, gate: linear(mf, `${p}.ffn_gate`), up: linear(mf, `${p}.ffn_up`), down: linear(mf, `${p}.ffn_down`) });
      continue;
    }
    // Routed experts (built by the Transformer from `experts`) plus a shared expert scaled by sigmoid(x · g).
    for (const t of ['ffn_gate_inp_shexp', 'ffn_gate_shexp', 'ffn_up_shexp', 'ffn_down_shexp']) need(mf, `${p}.${t}.weight`, `layer ${i}'s shared expert`);
    const sh = { gate: linear(mf, `${p}.ffn_gate_shexp`), up: linear(mf, `${p}.ffn_up_shexp`), down: linear(mf, `${p}.ffn_down_shexp`), g: mf.vector(`${p}.ffn_gate_inp_shexp.weight`) };
    layers.push({
      ...base, gate: null, up: null, down: null,
      experts: expertWeights(mf, i, c, `${v.arch}.expert_count`),
      wrapFfn: (b, routed) => {
        const L = (x: { weight: Weights }) => new Linear(b, x.weight);
        const shared = new MLP(b, { kind: 'swiglu', gate: L(sh.gate), up: L(sh.up), down: L(sh.down) });
        return new SharedExpertFFN(b, routed, shared, new Linear(b, { dtype: 'f32', rows: 1, cols: c.dim, data: sh.g }), c.dim);
      },
    });
  }
  const tokenEmbedding = mf.weights('token_embd.weight');
  return { tokenEmbedding, positionEmbedding: null, layers, finalNorm: norm(mf, 'output_norm'), lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding };
}

export function qwen35Weights(mf: ModelFile, c: TransformerConfig): TransformerWeights {
  const arch = c.family === 'qwen35moe' ? 'qwen35moe' : 'qwen35';
  return hybridWeights(mf, c, { arch, moe: arch === 'qwen35moe', keyHeads: 'tiled', projections: separateProjections });
}

export const qwen35: Architecture = {
  family: 'qwen35',
  gguf: ['qwen35'],
  huggingface: [],
  ggufName: 'qwen35',
  permuteQK: false,
  config(mf) {
    if (!mf.gguf) throw new FormatError(`${mf.path}: qwen35 models are read from GGUF files only (convert with llama.cpp's converter)`);
    return configFromGGUF(mf, 'qwen35', RECIPE);
  },
  hfTensorName: () => null,
  weights: (mf, c) => qwen35Weights(mf, c),
  ggufMetadata: (c) => standardGGUFMetadata('qwen35', c),
};

/** qwen35moe: Qwen3.5's hybrid layers with a mixture-of-experts FFN plus a gated shared expert. */
export const qwen35moe: Architecture = {
  family: 'qwen35moe',
  gguf: ['qwen35moe'],
  huggingface: [],
  ggufName: 'qwen35moe',
  permuteQK: false,
  config(mf) {
    if (!mf.gguf) throw new FormatError(`${mf.path}: qwen35moe models are read from GGUF files only (convert with llama.cpp's converter)`);
    const c = configFromGGUF(mf, 'qwen35moe', RECIPE);
    const moe = moeFromGGUF(new GGUFKeys(mf), c.hiddenDim, 'expert_feed_forward_length');
    if (!moe) throw new FormatError(`${mf.path}: a qwen35moe model needs qwen35moe.expert_count`);
    return { ...c, moe };
  },
  hfTensorName: () => null,
  weights: (mf, c) => qwen35Weights(mf, c),
  ggufMetadata: (c) => standardGGUFMetadata('qwen35moe', c),
};
