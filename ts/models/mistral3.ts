/**
 * mistral3: Ministral 3 (GGUF `mistral3`, HF Ministral3ForCausalLM). A Llama block (its converter
 * permutes Q/K like Llama's; llama.cpp runs it with interleaved RoPE) with YaRN RoPE whose
 * magnitude uses `mscale_all_dim` (rope.scaling.yarn_log_multiplier) and whose ramp reads the
 * yarn_beta_fast/slow keys, and a position-dependent query temperature
 * (attention.temperature_scale = llama_4_scaling_beta, floor = the original context). A sliding
 * window is applied where the file declares one (GGUF mistral3.attention.sliding_window, HF
 * sliding_window with layer_types); llama.cpp's graph for this family has none (Ministral 3
 * checkpoints declare none), so the llama.cpp parity tests run without it.
 */
import { f32, u32 } from '../formats/gguf-writer.js';
import { configFromGGUF, configFromHF, GGUFKeys, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { RopeScaling } from '../layers/rope-table.js';
import type { TransformerConfig } from './config.js';
import { decoderWeights } from './llama.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'interleaved' };

export const mistral3: Architecture = {
  family: 'mistral3',
  gguf: ['mistral3'],
  huggingface: ['Ministral3ForCausalLM', 'ministral3'],
  ggufName: 'mistral3',
  permuteQK: true,
  config(mf) {
    if (mf.gguf) {
      const c = configFromGGUF(mf, 'mistral3', RECIPE);
      const k = new GGUFKeys(mf);
      const s = c.ropeScaling;
      const beta = k.num('attention.temperature_scale') ?? 0;
      const withYarn: TransformerConfig = s?.type === 'yarn'
        ? { ...c, ropeScaling: { ...s, ...num('betaFast', k.num('rope.scaling.yarn_beta_fast')), ...num('betaSlow', k.num('rope.scaling.yarn_beta_slow')), ...num('logMul', k.num('rope.scaling.yarn_log_multiplier')) } }
        : c;
      const floor = s?.originalContext ?? k.num('rope.scaling.original_context_length') ?? c.contextLength;
      const window = k.num('attention.sliding_window');
      const swa = window ? { slidingWindow: { size: window, key: k.key('attention.sliding_window') } } : {};
      return { ...(beta !== 0 ? { ...withYarn, attnTemperature: { beta, floor } } : withYarn), ...swa };
    }
    const c = configFromHF(mf, 'mistral3', RECIPE);
    const p = (mf.hfConfig?.rope_parameters ?? mf.hfConfig?.rope_scaling ?? {}) as Record<string, unknown>;
    const logMul = typeof p.mscale_all_dim === 'number' ? p.mscale_all_dim : undefined;
    const beta = typeof p.llama_4_scaling_beta === 'number' ? p.llama_4_scaling_beta : 0;
    const s = c.ropeScaling;
    // mscale_all_dim goes to llama.cpp's yarn_log_multiplier (the generic reader's attnFactor would count it twice)
    const withYarn: TransformerConfig = s?.type === 'yarn' && logMul ? { ...c, ropeScaling: { ...withoutAttnFactor(s), logMul } } : c;
    const window = mf.hfConfig?.sliding_window;
    const types = mf.hfConfig?.layer_types;
    const swa = typeof window === 'number' && window > 0
      ? { slidingWindow: { size: window, key: 'sliding_window', ...(Array.isArray(types) ? { layers: types.map((t) => t === 'sliding_attention') } : {}) } }
      : {};
    return { ...(beta !== 0 ? { ...withYarn, attnTemperature: { beta, floor: s?.originalContext ?? c.contextLength } } : withYarn), ...swa };
  },
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => {
    const meta = standardGGUFMetadata('mistral3', c);
    if (c.ropeScaling?.logMul !== undefined) meta.push(['mistral3.rope.scaling.yarn_log_multiplier', f32(c.ropeScaling.logMul)]);
    if (c.attnTemperature) meta.push(['mistral3.attention.temperature_scale', f32(c.attnTemperature.beta)]);
    if (c.slidingWindow) meta.push(['mistral3.attention.sliding_window', u32(c.slidingWindow.size)]);
    return meta;
  },
};

function withoutAttnFactor(s: RopeScaling): RopeScaling {
  const { attnFactor: _, ...rest } = s;
  return rest;
}

function num<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: number };
}
