/**
 * qwen3next: Qwen3-Next (GGUF `qwen3next`, e.g. Qwen3-Next-80B-A3B), the hybrid that Qwen3.5 grew
 * from, as llama.cpp runs it. The layers are qwen35moe's (see qwen35.ts): Gated DeltaNet in three of
 * every four layers (or those `attention.recurrent_layers` marks), gated full attention with q/k
 * norms and partial NEOX RoPE in the others, and in every layer routed experts (softmax, top-k,
 * renormalized) plus a shared expert scaled by sigmoid(x · ffn_gate_inp_shexp). What differs:
 *
 * - value heads are grouped by key head (value head h reads key head ⌊h / (Hv/Hk)⌋; Qwen3.5's files
 *   are reordered to the tiled h % Hk);
 * - β and α come from one tensor `ssm_ba` [2·Hv, dim] whose rows are, per key head, that group's
 *   β rows then its α rows;
 * - older files store q, k, v and the gate z in one tensor `ssm_in` (per key head: q, k, that
 *   group's v, that group's z) instead of attn_qkv + attn_gate;
 * - plain NEOX RoPE (no M-RoPE sections), and the FFN is always a mixture of experts.
 */
import { FormatError } from '../formats/byte-source.js';
import type { ModelFile } from '../formats/model-file.js';
import type { Weights } from '../backend/types.js';
import { u32 } from '../formats/gguf-writer.js';
import { moeFromGGUF } from './experts.js';
import { configFromGGUF, GGUFKeys, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { hybridWeights, need, type DeltaNetProjections, type DeltaNetShape } from './qwen35.js';
import { moeGGUFMetadata } from './llama.js';
import { concatRows, sliceRows } from './weights.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'half' };

/** A matrix made of the given row ranges [r0, r1) of `w`, in order (copies). */
function gatherRows(w: Weights, ranges: readonly [number, number][]): Weights {
  return concatRows(ranges.map(([r0, r1]) => ({ weight: sliceRows(w, r0, r1), bias: null }))).weight;
}

function rowsOf(mf: ModelFile, name: string, expect: number, what: string): Weights {
  const w = mf.weights(name);
  if (w.rows !== expect) throw new FormatError(`${mf.path}: ${name} has ${w.rows} rows, expected ${expect} (${what})`);
  return w;
}

/** Qwen3-Next's DeltaNet input projections: attn_qkv + attn_gate (or the older fused ssm_in), and ssm_ba split into β and α. */
function qwen3nextProjections(mf: ModelFile, p: string, s: DeltaNetShape, why: string): DeltaNetProjections {
  const { nKHeads: Hk, nVHeads: Hv, headKDim: Dk, headVDim: Dv } = s;
  const r = Hv / Hk;
  const groups = Array.from({ length: Hk }, (_, j) => j);
  let qkv: Weights;
  let gate: Weights;
  if (mf.has(`${p}.attn_qkv.weight`) || !mf.has(`${p}.ssm_in.weight`)) {
    need(mf, `${p}.attn_qkv.weight`, `${why}; older files have ${p}.ssm_in.weight instead`);
    need(mf, `${p}.attn_gate.weight`, why);
    qkv = rowsOf(mf, `${p}.attn_qkv.weight`, 2 * Hk * Dk + Hv * Dv, `q, k and v of ${Hk} key heads of ${Dk} and ${Hv} value heads of ${Dv}`);
    gate = rowsOf(mf, `${p}.attn_gate.weight`, Hv * Dv, `the output gate of ${Hv} value heads of ${Dv}`);
  } else {
    // per key head j, a block of B rows: q (Dk), k (Dk), v of its r value heads, z of its r value heads
    const B = 2 * Dk + 2 * r * Dv;
    const w = rowsOf(mf, `${p}.ssm_in.weight`, Hk * B, `per key head: q and k of ${Dk}, v and z of ${r} value heads of ${Dv}`);
    const part = (off: number, n: number) => groups.map((j): [number, number] => [j * B + off, j * B + off + n]);
    qkv = gatherRows(w, [...part(0, Dk), ...part(Dk, Dk), ...part(2 * Dk, r * Dv)]);
    gate = gatherRows(w, part(2 * Dk + r * Dv, r * Dv));
  }
  need(mf, `${p}.ssm_ba.weight`, why);
  const ba = rowsOf(mf, `${p}.ssm_ba.weight`, 2 * Hv, `per key head: β then α of its ${r} value heads`);
  const beta = gatherRows(ba, groups.map((j) => [j * 2 * r, j * 2 * r + r]));
  const alpha = gatherRows(ba, groups.map((j) => [j * 2 * r + r, j * 2 * r + 2 * r]));
  return { qkv, gate, beta, alpha };
}

export const qwen3next: Architecture = {
  family: 'qwen3next',
  gguf: ['qwen3next'],
  huggingface: [],
  ggufName: 'qwen3next',
  permuteQK: false,
  config(mf) {
    if (!mf.gguf) throw new FormatError(`${mf.path}: qwen3next models are read from GGUF files only (convert with llama.cpp's converter)`);
    const c = configFromGGUF(mf, 'qwen3next', RECIPE);
    const moe = moeFromGGUF(new GGUFKeys(mf), c.hiddenDim, 'expert_feed_forward_length');
    if (!moe) throw new FormatError(`${mf.path}: a qwen3next model needs qwen3next.expert_count (every layer's FFN is a mixture of experts)`);
    return { ...c, moe };
  },
  hfTensorName: () => null,
  weights: (mf, c) => hybridWeights(mf, c, { arch: 'qwen3next', moe: true, keyHeads: 'grouped', projections: qwen3nextProjections }),
  ggufMetadata: (c) => [
    ...standardGGUFMetadata('qwen3next', c),
    ...moeGGUFMetadata('qwen3next', c),
    ...(c.moe ? ([['qwen3next.expert_feed_forward_length', u32(c.moe.hiddenDim)]] as [string, ReturnType<typeof u32>][]) : []),
  ],
};
