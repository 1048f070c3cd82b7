/**
 * gemma3: Gemma 3 text models (GGUF `gemma3`, HF Gemma3ForCausalLM and the text half of
 * Gemma3ForConditionalGeneration), as llama.cpp's graph runs them: Gemma 2's block (√dim
 * embeddings, four (1 + w) RMSNorms, GeGLU, queries scaled by 1/√headDim) without attention
 * soft-capping, plus
 * - per-head RMSNorm of q and k before RoPE (attn_q_norm / attn_k_norm, also stored as 1 + w);
 * - local and global layers: when the file declares attention.sliding_window, five of every six
 *   layers (i % 6 < 5, or attention.sliding_window_pattern) slide and rotate with the local base
 *   rope.freq_base_swa (HF rope_local_base_freq, default 10000) without RoPE scaling; the global
 *   layers use rope.freq_base and the file's RoPE scaling (the 4B+ models' linear factor 8);
 * - final logit soft-capping only when the file gives final_logit_softcapping.
 */
import { f32, u32 } from '../formats/gguf-writer.js';
import type { ModelFile } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, GGUFKeys, HFKeys, standardGGUFMetadata, type Architecture } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { GEMMA_RECIPE, gemmaHfName, gemmaHfShift, gemmaWeights, swaLayersFromGGUF, swaLayersFromHF, windowSize } from './gemma2.js';

const SWA_PATTERN = 6;
const QK_NORM = { 'self_attn.q_norm': 'attn_q_norm', 'self_attn.k_norm': 'attn_k_norm' };

function gemma3Config(mf: ModelFile): TransformerConfig {
  if (mf.gguf) {
    const c = configFromGGUF(mf, 'gemma3', GEMMA_RECIPE);
    const k = new GGUFKeys(mf);
    const window = k.num('attention.sliding_window');
    const finalCap = k.num('final_logit_softcapping');
    const headScale = c.nLayers === 62 ? c.dim / c.nHeads : c.headDim; // llama.cpp: the 27B scales by dim / heads
    return {
      ...c,
      qkNorm: true,
      embedScale: Math.sqrt(c.dim),
      attnScale: 1 / Math.sqrt(headScale),
      ...(finalCap ? { finalSoftcap: finalCap } : {}),
      ...(window ? {
        slidingWindow: { size: windowSize(window, window, c.contextLength, k.key('attention.sliding_window'), k.where), layers: swaLayersFromGGUF(k, c.nLayers, SWA_PATTERN), key: k.key('attention.sliding_window') },
        swaRopeTheta: k.num('rope.freq_base_swa') ?? 10000,
      } : {}),
      postNorms: true,
    };
  }
  const k = new HFKeys(mf);
  const params = (k.cfg.rope_parameters ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const global = params.full_attention;
  const base = configFromHF(mf, 'gemma3', GEMMA_RECIPE);
  const c: TransformerConfig = typeof global?.rope_theta === 'number' && base.rope ? { ...base, rope: { ...base.rope, theta: global.rope_theta } } : base;
  const localTheta = params.sliding_attention?.rope_theta;
  const window = k.num('sliding_window');
  const pattern = k.num('sliding_window_pattern') ?? SWA_PATTERN;
  const finalCap = k.num('final_logit_softcapping');
  return {
    ...c,
    qkNorm: true,
    embedScale: Math.sqrt(c.dim),
    attnScale: 1 / Math.sqrt(k.num('query_pre_attn_scalar') ?? c.headDim),
    ...(finalCap ? { finalSoftcap: finalCap } : {}),
    ...(window && pattern !== 1 ? {
      slidingWindow: { size: windowSize(window, window, c.contextLength, 'sliding_window', k.where), layers: swaLayersFromHF(mf, c.nLayers, pattern), key: 'sliding_window' },
      swaRopeTheta: typeof localTheta === 'number' ? localTheta : (k.num('rope_local_base_freq') ?? 10000),
    } : {}),
    postNorms: true,
  };
}

export const gemma3: Architecture = {
  family: 'gemma3',
  gguf: ['gemma3'],
  huggingface: ['Gemma3ForCausalLM', 'gemma3_text'],
  ggufName: 'gemma3',
  permuteQK: false,
  config: gemma3Config,
  hfTensorName: (name) => gemmaHfName(name, QK_NORM),
  weights: gemmaWeights,
  hfShift: gemmaHfShift,
  ggufMetadata(c) {
    const meta = standardGGUFMetadata('gemma3', c).filter(([key]) => !/attention\.(key_length|value_length)$/.test(key));
    meta.push(['gemma3.attention.key_length', u32(c.headDim)], ['gemma3.attention.value_length', u32(c.headDim)]);
    if (c.swaRopeTheta !== undefined) meta.push(['gemma3.rope.freq_base_swa', f32(c.swaRopeTheta)]);
    if (c.finalSoftcap) meta.push(['gemma3.final_logit_softcapping', f32(c.finalSoftcap)]);
    if (c.slidingWindow) meta.push(['gemma3.attention.sliding_window', u32(c.slidingWindow.size)]);
    return meta;
  },
};
