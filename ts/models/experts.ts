/**
 * Reading a sparse mixture-of-experts layer (Mixtral, Qwen3-MoE) under GGUF names: the router
 * `blk.N.ffn_gate_inp.weight` [experts, dim] and the experts stacked in one tensor each,
 * `blk.N.ffn_{gate,up,down}_exps.weight` [experts, out, in] (GGUF), or one tensor per expert,
 * `blk.N.ffn_{gate,up,down}_exps.E.weight` (a Hugging Face checkpoint renamed; our converter stacks
 * them). Config keys: `<arch>.expert_count`, `<arch>.expert_used_count`.
 */
import { FormatError } from '../formats/byte-source.js';
import type { ModelFile, TensorRename } from '../formats/model-file.js';
import type { GGUFKeys, HFKeys } from './architecture.js';
import type { TransformerConfig } from './config.js';
import type { ExpertWeights, LinearWeights } from './weights.js';
import { linear, sliceRows } from './weights.js';

/** MoE hyperparameters from GGUF keys, or undefined for a dense model (no expert_count). */
export function moeFromGGUF(k: GGUFKeys, denseHidden: number, expertHiddenKey?: string): TransformerConfig['moe'] {
  const experts = k.num('expert_count') ?? 0;
  if (experts === 0) return undefined;
  const used = k.need('expert_used_count');
  if (used > experts) throw new FormatError(`${k.where}: ${k.key('expert_used_count')} (${used}) is larger than ${k.key('expert_count')} (${experts})`);
  return { experts: k.need('expert_count'), used, hiddenDim: (expertHiddenKey && k.num(expertHiddenKey)) || denseHidden };
}

/** MoE hyperparameters from config.json (num_local_experts / num_experts, num_experts_per_tok, moe_intermediate_size). */
export function moeFromHF(k: HFKeys, denseHidden: number): TransformerConfig['moe'] {
  const experts = k.num('num_local_experts', 'num_experts') ?? 0;
  if (experts === 0) return undefined;
  const used = k.need('num_experts_per_tok');
  if (used > experts) throw new FormatError(`${k.where}: num_experts_per_tok (${used}) is larger than the ${experts} experts`);
  return { experts, used, hiddenDim: k.num('moe_intermediate_size') ?? denseHidden };
}

/** HF expert tensor names → GGUF's (per expert; the converter stacks them). */
export function expertHfName(name: string): TensorRename | null {
  const m = /^model\.layers\.(\d+)\.(?:block_sparse_moe|mlp)\.(gate\.weight|experts\.(\d+)\.(w1|w2|w3|gate_proj|up_proj|down_proj)\.weight)$/.exec(name);
  if (!m) return null;
  if (m[2] === 'gate.weight') return { name: `blk.${m[1]}.ffn_gate_inp.weight` };
  const part = { w1: 'gate', w3: 'up', w2: 'down', gate_proj: 'gate', up_proj: 'up', down_proj: 'down' }[m[4]!]!;
  return { name: `blk.${m[1]}.ffn_${part}_exps.${m[3]}.weight` };
}

/** Per-expert tensors of a renamed HF file → the stacked GGUF tensor they form, for the converter. */
export function expertStacks(mf: ModelFile): { name: string; parts: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const n of mf.tensors.keys()) {
    const m = /^(blk\.\d+\.ffn_(?:gate|up|down)_exps)\.(\d+)\.weight$/.exec(n);
    if (!m) continue;
    const list = groups.get(m[1]!) ?? [];
    list[Number(m[2])] = n;
    groups.set(m[1]!, list);
  }
  return [...groups].map(([stem, parts]) => {
    if (parts.some((p) => p === undefined) || parts.length === 0) throw new FormatError(`${mf.path}: experts of ${stem} are not numbered 0…N-1`);
    return { name: `${stem}.weight`, parts };
  });
}

/** The experts of layer i, checked against the config's expert count. */
export function expertWeights(mf: ModelFile, i: number, c: TransformerConfig, countKey: string): ExpertWeights {
  const E = c.moe!.experts;
  const p = `blk.${i}`;
  const router = linear(mf, `${p}.ffn_gate_inp`);
  if (router.weight.rows !== E) {
    throw new FormatError(`${mf.path}: ${p}.ffn_gate_inp.weight routes to ${router.weight.rows} experts, but ${countKey} is ${E}`);
  }
  const part = (what: 'gate' | 'up' | 'down'): LinearWeights[] => {
    const stacked = `${p}.ffn_${what}_exps.weight`;
    if (mf.has(stacked)) {
      const shape = mf.tensors.get(stacked)!.shape;
      if (shape.length !== 3 || shape[0] !== E) {
        throw new FormatError(`${mf.path}: ${stacked} has shape [${shape.join(', ')}], expected [${E}, out, in] (${countKey} = ${E})`);
      }
      const w = mf.weights(stacked);
      const rows = shape[1]!;
      return Array.from({ length: E }, (_, e) => ({ weight: sliceRows(w, e * rows, (e + 1) * rows), bias: null }));
    }
    const list: LinearWeights[] = [];
    for (let e = 0; mf.has(`${p}.ffn_${what}_exps.${e}.weight`); e++) list.push(linear(mf, `${p}.ffn_${what}_exps.${e}`));
    if (list.length === 0) throw new FormatError(`${mf.path}: tensor '${stacked}' is missing`);
    if (list.length !== E) throw new FormatError(`${mf.path}: ${p} has ${list.length} ${what} experts, but ${countKey} is ${E}`);
    return list;
  };
  return { router, gate: part('gate'), up: part('up'), down: part('down') };
}
