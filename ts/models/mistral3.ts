/**
 * mistral3: Ministral 3 (GGUF `mistral3`, HF Ministral3ForCausalLM). A Llama block (its converter
 * permutes Q/K like Llama's; llama.cpp runs it with interleaved RoPE) with YaRN RoPE whose
 * magnitude uses `mscale_all_dim` (rope.scaling.yarn_log_multiplier) and whose ramp reads the
 * yarn_beta_fast/slow keys, and a position-dependent query temperature
 * (attention.temperature_scale = llama_4_scaling_beta, floor = the original context). llama.cpp's
 * graph for this family has no sliding window, so none is applied here either.
 */
import { f32 } from '../formats/gguf-writer.js';
import { configFromGGUF, configFromHF, GGUFKeys, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
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
      return beta !== 0 ? { ...withYarn, attnTemperature: { beta, floor } } : withYarn;
    }
    const c = configFromHF(mf, 'mistral3', RECIPE);
    const p = (mf.hfConfig?.rope_parameters ?? mf.hfConfig?.rope_scaling ?? {}) as Record<string, unknown>;
    const logMul = typeof p.mscale_all_dim === 'number' ? p.mscale_all_dim : undefined;
    const beta = typeof p.llama_4_scaling_beta === 'number' ? p.llama_4_scaling_beta : 0;
    const s = c.ropeScaling;
    const withYarn: TransformerConfig = s?.type === 'yarn' && logMul ? { ...c, ropeScaling: { ...s, logMul } } : c;
    return beta !== 0 ? { ...withYarn, attnTemperature: { beta, floor: s?.originalContext ?? c.contextLength } } : withYarn;
  },
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => {
    const meta = standardGGUFMetadata('mistral3', c);
    if (c.ropeScaling?.logMul !== undefined) meta.push(['mistral3.rope.scaling.yarn_log_multiplier', f32(c.ropeScaling.logMul)]);
    if (c.attnTemperature) meta.push(['mistral3.attention.temperature_scale', f32(c.attnTemperature.beta)]);
    return meta;
  },
};

function num<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: number };
}
