/**
 * Which weight type each tensor gets when a model is quantized, following llama.cpp's quantizer
 * (`llama_tensor_get_type` in src/llama-quant.cpp) so `tensorloom convert --type q4_k_m` writes the
 * same types per tensor as `llama-quantize … Q4_K_M`:
 * - a "mix" (llama.cpp's ftype: q4_k_m, q5_k_s, q3_k_l, q2_k, q4_0, …) has a default type and
 *   per-tensor rules: the output head (and a tied token embedding) gets Q6_K, some layers of
 *   attn_v / ffn_down get more bits (`use_more_bits`), etc.;
 * - a plain type with no mix of that name (q3_k, q4_k, q5_k) is applied to every matrix ("pure");
 * - a row length that is not a multiple of the type's block falls back to a 32-block type
 *   (Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, Q2_K/Q3_K → Q4_0, IQ4_XS → IQ4_NL), then to F16.
 * Only what tensorloom can compute is offered: llama.cpp's IQ1/IQ2/IQ3/TQ/MXFP4 mixes are not, nor
 * Q2_K_S, which llama.cpp refuses to make without an importance matrix.
 * Rules for Falcon and mixture-of-experts models (n_expert = 8) are left out: tensorloom runs neither.
 */
import { WEIGHT_TYPES, type DType } from '../backend/weight-types.js';

export interface QuantMix {
  /** `llama_ftype`, written as general.file_type. */
  readonly ftype: number;
  /** The type most matrices get. */
  readonly base: DType;
  /** No per-tensor rules: every matrix gets `base` (with the block fallback). */
  readonly pure?: boolean;
}

/** Every --type convert accepts: llama.cpp's mixes by their llama-quantize names, and plain types. */
export const QUANT_MIXES: Readonly<Record<string, QuantMix>> = {
  f32: { ftype: 0, base: 'f32' },
  f16: { ftype: 1, base: 'f16' },
  bf16: { ftype: 32, base: 'bf16' },
  q4_0: { ftype: 2, base: 'q4_0' },
  q4_1: { ftype: 3, base: 'q4_1' },
  q5_0: { ftype: 8, base: 'q5_0' },
  q5_1: { ftype: 9, base: 'q5_1' },
  q8_0: { ftype: 7, base: 'q8_0' },
  q2_k: { ftype: 10, base: 'q2_k' },
  q3_k_s: { ftype: 11, base: 'q3_k' },
  q3_k_m: { ftype: 12, base: 'q3_k' },
  q3_k_l: { ftype: 13, base: 'q3_k' },
  q4_k_s: { ftype: 14, base: 'q4_k' },
  q4_k_m: { ftype: 15, base: 'q4_k' },
  q5_k_s: { ftype: 16, base: 'q5_k' },
  q5_k_m: { ftype: 17, base: 'q5_k' },
  q6_k: { ftype: 18, base: 'q6_k' },
  iq4_nl: { ftype: 25, base: 'iq4_nl' },
  iq4_xs: { ftype: 30, base: 'iq4_xs' },
  // plain K-quant types (llama.cpp has only their _S/_M/_L mixes)
  q3_k: { ftype: 11, base: 'q3_k', pure: true },
  q4_k: { ftype: 14, base: 'q4_k', pure: true },
  q5_k: { ftype: 16, base: 'q5_k', pure: true },
};

export type QuantMixName = keyof typeof QUANT_MIXES;

/** The model facts the rules read. */
export interface MixModel {
  arch: string;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
}

/** A tensor as the rules see it: GGUF name and shape (outermost first; rows of shape[last]). */
export interface MixTensor {
  name: string;
  shape: readonly number[];
}

type Category = 'output' | 'token_embd' | 'attn_qkv' | 'attn_kv_b' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

/** tensor_get_category: by name, first match wins. */
function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight' || name === 'per_layer_token_embd.weight') return 'token_embd';
  for (const c of ['attn_qkv', 'attn_kv_b', 'attn_v', 'attn_k', 'attn_q', 'attn_output'] as const) if (name.includes(`${c}.weight`)) return c;
  for (const c of ['ffn_up', 'ffn_gate', 'ffn_down'] as const) if (name.includes(c)) return c;
  return 'other';
}

const isAttnV = (c: Category): boolean => c === 'attn_v' || c === 'attn_qkv' || c === 'attn_kv_b';

/** tensor_allows_quantization, for the tensor names tensorloom's architectures use. */
export function allowsQuantization(t: MixTensor): boolean {
  if (t.shape.length < 2) return false;
  const n = t.name;
  return n.endsWith('weight') && !n.includes('_norm.weight') && !n.includes('ffn_gate_inp.weight')
    && n !== 'position_embd.weight' && n !== 'token_types.weight' && !n.includes('attn_rel_b.weight');
}

/** llama.cpp's quantize order: non-layer tensors first, then by layer, then by name. */
function quantizeOrder(a: string, b: string): number {
  const layer = (s: string) => { const m = /^blk\.(\d+)\./.exec(s); return m ? Number(m[1]) : -1; };
  const la = layer(a), lb = layer(b);
  if (la !== lb) return la - lb;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The 32-block fallback of a 256-block type (tensor_type_fallback). */
const FALLBACK: Partial<Record<DType, DType>> = { q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0', iq4_xs: 'iq4_nl' };

function fitBlock(type: DType, cols: number): DType {
  if (cols % WEIGHT_TYPES[type].blockSize === 0) return type;
  const fallback = FALLBACK[type] ?? type;
  return cols % WEIGHT_TYPES[fallback].blockSize === 0 ? fallback : 'f16';
}

/**
 * The stored type of every tensor for a mix; a tensor the quantizer leaves alone (1-D, norms,
 * position tables) maps to null (it keeps its float type).
 */
export function chooseTensorTypes(tensors: readonly MixTensor[], model: MixModel, mixName: string): Map<string, DType | null> {
  const mix = QUANT_MIXES[mixName];
  if (!mix) throw new RangeError(`unknown quantization type '${mixName}' (one of ${Object.keys(QUANT_MIXES).join(', ')})`);
  const ft = mixName;
  const quantized = WEIGHT_TYPES[mix.base].storage === 'blocks';
  const nGqa = model.nKvHeads > 0 ? model.nHeads / model.nKvHeads : 1;
  const is70B = model.arch === 'llama' && model.nLayers === 80 && model.nHeads !== model.nKvHeads;
  const useMoreBits = (i: number, n: number): boolean => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;

  const ordered = [...tensors].sort((a, b) => quantizeOrder(a.name, b.name));
  const tied = !tensors.some((t) => t.name === 'output.weight');
  const nAttnV = tensors.filter((t) => isAttnV(category(t.name))).length;
  const nLayer = model.nLayers;
  let iAttnV = 0, iFfnDown = 0;

  const out = new Map<string, DType | null>();
  for (const t of ordered) {
    if (!allowsQuantization(t)) { out.set(t.name, null); continue; }
    let type: DType = mix.base;
    if (!quantized) { out.set(t.name, type); continue; }
    const cols = t.shape[t.shape.length - 1]!;
    const cat = category(t.name);
    if (!mix.pure) {
      if (cat === 'output' || (tied && cat === 'token_embd')) {
        if (cols % WEIGHT_TYPES[type].blockSize !== 0) type = 'q8_0';
        else if (type !== 'q8_0') type = 'q6_k';
      } else if (isAttnV(cat)) {
        // (an untied token_embd has no rule in the mixes offered here; attn_qkv counts as attn_v)
        if (ft === 'q2_k') type = nGqa >= 4 ? 'q4_k' : 'q3_k';
        else if (ft === 'q3_k_m') type = iAttnV < 2 ? 'q5_k' : 'q4_k';
        else if (ft === 'q3_k_l') type = 'q5_k';
        else if ((ft === 'iq4_nl' || ft === 'iq4_xs') && nGqa >= 4) type = 'q5_k';
        else if ((ft === 'q4_k_m' || ft === 'q5_k_m') && useMoreBits(iAttnV, nAttnV)) type = 'q6_k';
        else if (ft === 'q4_k_s' && iAttnV < 4) type = 'q5_k';
        if (is70B && (type === 'q3_k' || type === 'q4_k')) type = 'q5_k';
        iAttnV++;
      } else if (cat === 'ffn_down') {
        const i = iFfnDown;
        if (ft === 'q2_k') type = 'q3_k';
        else if (ft === 'q3_k_m') type = i < Math.trunc(nLayer / 16) ? 'q5_k' : 'q4_k';
        else if (ft === 'q3_k_l') type = 'q5_k';
        else if (ft === 'q4_k_m') { if (useMoreBits(i, nLayer)) type = 'q6_k'; }
        else if (i < Math.trunc(nLayer / 8) && (ft === 'iq4_nl' || ft === 'iq4_xs')) type = 'q5_k';
        else if (ft === 'q5_k_m' && useMoreBits(i, nLayer)) type = 'q6_k';
        else if (ft === 'q4_k_s' && i < Math.trunc(nLayer / 8)) type = 'q5_k';
        iFfnDown++;
      } else if (cat === 'attn_output') {
        if (ft === 'q2_k') type = 'q3_k';
        else if (ft === 'q3_k_m') type = 'q4_k';
        else if (ft === 'q3_k_l') type = 'q5_k';
      }
    }
    out.set(t.name, fitBlock(type, cols));
  }
  return out;
}
