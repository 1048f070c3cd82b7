/**
 * gemma2: Gemma 2 (GGUF `gemma2`, HF Gemma2ForCausalLM), as llama.cpp's graph runs it:
 * - token embeddings × √dim; the LM head is the embedding table (tied);
 * - RMSNorm before and after attention and before and after the MLP (post_attention_norm,
 *   post_ffw_norm normalize the block outputs before the residual add);
 * - the model scales by (1 + w): HF checkpoints store w, llama.cpp's converter writes 1 + w, so
 *   GGUF norms are used as they are and a HF folder's get + 1 (`hfShift`);
 * - GeGLU MLP (gelu-tanh gate), NEOX ("half") RoPE, queries scaled by 1/√headDim
 *   (1/√(dim / heads) for the 46-layer 27B, as llama.cpp does; HF: query_pre_attn_scalar);
 * - attention scores soft-capped (cap · tanh(x / cap), attn_logit_softcapping) and final logits
 *   likewise (final_logit_softcapping);
 * - sliding-window attention in every other layer (layer i when i % 2 == 0; GGUF
 *   attention.sliding_window_pattern may say otherwise), window attention.sliding_window.
 */
import { FormatError } from '../formats/byte-source.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, GGUFKeys, HFKeys, llamaStyleHfName, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { ModelFamily, TransformerConfig } from './config.js';
import { decoderWeights } from './llama.js';
import type { NormWeights, TransformerWeights } from './weights.js';
import { norm } from './weights.js';

export const GEMMA_RECIPE: Recipe = { norm: 'rmsnorm', mlp: 'geglu', positions: 'rope', ggufRopeLayout: 'half' };

/** HF layer parts of the Gemma 2/3 block → GGUF (the four norms differ from Llama's). */
export const GEMMA_PARTS: Readonly<Record<string, string>> = {
  post_attention_layernorm: 'post_attention_norm',
  pre_feedforward_layernorm: 'ffn_norm',
  post_feedforward_layernorm: 'post_ffw_norm',
};

/** Which layers slide: GGUF's sliding_window_pattern (array of flags, or n: layer i slides when i % n < n − 1). */
export function swaLayersFromGGUF(k: GGUFKeys, nLayers: number, defaultPattern: number): boolean[] {
  const raw = k.mf.gguf!.metadata.get(k.key('attention.sliding_window_pattern'));
  if (Array.isArray(raw)) {
    if (raw.length < nLayers) throw new FormatError(`${k.where}: ${k.key('attention.sliding_window_pattern')} has ${raw.length} entries for ${nLayers} layers`);
    return raw.slice(0, nLayers).map((f) => Boolean(f));
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'bigint' ? Number(raw) : defaultPattern;
  return Array.from({ length: nLayers }, (_, i) => n === 0 || i % n < n - 1);
}

/** Which layers slide from config.json: `layer_types` when given, else every `pattern`-th layer is global. */
export function swaLayersFromHF(mf: ModelFile, nLayers: number, pattern: number): boolean[] {
  const types = mf.hfConfig?.layer_types;
  if (Array.isArray(types)) {
    if (types.length !== nLayers) throw new FormatError(`${mf.path}/config.json: layer_types has ${types.length} entries for ${nLayers} layers`);
    return types.map((t) => t === 'sliding_attention');
  }
  return Array.from({ length: nLayers }, (_, i) => pattern === 0 || i % pattern < pattern - 1);
}

/** A positive window no larger than the model's context, or a FormatError naming the key. */
export function windowSize(v: number | undefined, fallback: number, context: number, key: string, where: string): number {
  const w = v ?? Math.min(fallback, context);
  if (!Number.isSafeInteger(w) || w < 1) throw new FormatError(`${where}: ${key} must be a positive integer, got ${w}`);
  if (w > context) throw new FormatError(`${where}: ${key} (${w}) is larger than the context length (${context})`);
  return w;
}

function gemma2Config(mf: ModelFile): TransformerConfig {
  const family: ModelFamily = 'gemma2';
  if (mf.gguf) {
    const c = configFromGGUF(mf, family, GEMMA_RECIPE);
    const k = new GGUFKeys(mf);
    const headScale = c.nLayers === 46 ? c.dim / c.nHeads : c.headDim; // llama.cpp: the 27B scales by dim / heads
    return {
      ...c,
      embedScale: Math.sqrt(c.dim),
      attnScale: 1 / Math.sqrt(headScale),
      attnSoftcap: k.num('attn_logit_softcapping') ?? 50,
      finalSoftcap: k.num('final_logit_softcapping') ?? 30,
      slidingWindow: { size: windowSize(k.num('attention.sliding_window'), 4096, c.contextLength, k.key('attention.sliding_window'), k.where), layers: swaLayersFromGGUF(k, c.nLayers, 2), key: k.key('attention.sliding_window') },
      postNorms: true,
    };
  }
  const c = configFromHF(mf, family, GEMMA_RECIPE);
  const k = new HFKeys(mf);
  const scalar = k.num('query_pre_attn_scalar') ?? c.headDim;
  const attnCap = k.num('attn_logit_softcapping');
  const finalCap = k.num('final_logit_softcapping');
  return {
    ...c,
    embedScale: Math.sqrt(c.dim),
    attnScale: 1 / Math.sqrt(scalar),
    ...(attnCap ? { attnSoftcap: attnCap } : {}),
    ...(finalCap ? { finalSoftcap: finalCap } : {}),
    slidingWindow: { size: windowSize(k.num('sliding_window'), 4096, c.contextLength, 'sliding_window', k.where), layers: swaLayersFromHF(mf, c.nLayers, 2), key: 'sliding_window' },
    postNorms: true,
  };
}

/** Adds 1 to a norm read from a HF folder (Gemma's RMSNorm scales by 1 + w). */
export function gemmaNorm(mf: ModelFile, name: string): NormWeights {
  const n = norm(mf, name);
  return mf.format === 'safetensors' ? { ...n, weight: n.weight.map((x) => x + 1) } : n;
}

/** Llama-style weights plus the post norms, with Gemma's norm shift for HF folders. */
export function gemmaWeights(mf: ModelFile, c: TransformerConfig): TransformerWeights {
  const w = decoderWeights(mf, c);
  w.layers.forEach((l, i) => {
    const p = `blk.${i}`;
    l.attnNorm = gemmaNorm(mf, `${p}.attn_norm`);
    l.mlpNorm = gemmaNorm(mf, `${p}.ffn_norm`);
    l.postAttnNorm = gemmaNorm(mf, `${p}.post_attention_norm`);
    l.postMlpNorm = gemmaNorm(mf, `${p}.post_ffw_norm`);
    if (c.qkNorm) {
      l.qNorm = gemmaNorm(mf, `${p}.attn_q_norm`);
      l.kNorm = gemmaNorm(mf, `${p}.attn_k_norm`);
    }
  });
  w.finalNorm = gemmaNorm(mf, 'output_norm');
  return w;
}

/** llama.cpp's converter adds 1 to every HF `*norm.weight`. */
export const gemmaHfShift = (name: string): number => (/norm\.weight$/.test(name) ? 1 : 0);

/** The HF → GGUF names of a Gemma checkpoint; lm_head is skipped as llama.cpp's converter does (tied). */
export function gemmaHfName(name: string, extra: Readonly<Record<string, string>> = {}): ReturnType<typeof llamaStyleHfName> {
  if (name === 'lm_head.weight') return null;
  return llamaStyleHfName(name.replace(/^model\.language_model\./, 'model.'), { ...GEMMA_PARTS, ...extra });
}

export const gemma2: Architecture = {
  family: 'gemma2',
  gguf: ['gemma2'],
  huggingface: ['Gemma2ForCausalLM', 'gemma2'],
  ggufName: 'gemma2',
  permuteQK: false,
  config: gemma2Config,
  hfTensorName: (name) => gemmaHfName(name),
  weights: gemmaWeights,
  hfShift: gemmaHfShift,
  ggufMetadata(c) {
    // Gemma2Model.set_gguf_parameters: no rope keys (llama.cpp's defaults: θ 10000, all head dims)
    const meta: [string, GGUFWriteValue][] = standardGGUFMetadata('gemma2', c).filter(([key]) => !/\.(rope\.|vocab_size$|attention\.(head_count_kv|key_length|value_length)$)/.test(key));
    meta.push(['gemma2.attention.head_count_kv', u32(c.nKvHeads)], ['gemma2.attention.key_length', u32(c.headDim)], ['gemma2.attention.value_length', u32(c.headDim)]);
    if (c.attnSoftcap) meta.push(['gemma2.attn_logit_softcapping', f32(c.attnSoftcap)]);
    if (c.finalSoftcap) meta.push(['gemma2.final_logit_softcapping', f32(c.finalSoftcap)]);
    if (c.slidingWindow) meta.push(['gemma2.attention.sliding_window', u32(c.slidingWindow.size)]);
    return meta;
  },
};
