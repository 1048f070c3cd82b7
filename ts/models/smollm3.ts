/**
 * smollm3: SmolLM3 (GGUF `smollm3`, HF SmolLM3ForCausalLM). A Llama block (its converter permutes
 * Q/K like Llama's) in which every fourth layer attends without RoPE ("NoPE" layers: layer i skips
 * RoPE when (i + 1) % 4 == 0, the step llama.cpp fixes for this family; config.json spells it as
 * `no_rope_layers`, 1 = RoPE, 0 = none).
 */
import { FormatError } from '../formats/byte-source.js';
import { configFromGGUF, configFromHF, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import { decoderWeights } from './llama.js';

const RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'swiglu', positions: 'rope', ggufRopeLayout: 'interleaved' };
const NO_ROPE_STEP = 4;

export const smollm3: Architecture = {
  family: 'smollm3',
  gguf: ['smollm3'],
  huggingface: ['SmolLM3ForCausalLM', 'smollm3'],
  ggufName: 'smollm3',
  permuteQK: true,
  config(mf) {
    if (mf.gguf) {
      const c = configFromGGUF(mf, 'smollm3', RECIPE);
      return { ...c, noRopeLayers: Array.from({ length: c.nLayers }, (_, i) => (i + 1) % NO_ROPE_STEP === 0) };
    }
    const c = configFromHF(mf, 'smollm3', RECIPE);
    const flags = mf.hfConfig?.no_rope_layers;
    let noRope = Array.from({ length: c.nLayers }, (_, i) => (i + 1) % NO_ROPE_STEP === 0);
    if (Array.isArray(flags)) {
      if (flags.length !== c.nLayers) throw new FormatError(`${mf.path}/config.json: no_rope_layers has ${flags.length} entries for ${c.nLayers} layers`);
      noRope = flags.map((f) => f === 0);
    }
    return { ...c, noRopeLayers: noRope };
  },
  hfTensorName: (name) => llamaStyleHfName(name),
  weights: (mf, c) => decoderWeights(mf, c),
  ggufMetadata: (c) => standardGGUFMetadata('smollm3', c),
};
