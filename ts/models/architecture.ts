/**
 * What one entry of the architecture table (./architectures.ts) declares, and the readers the
 * entries share: GGUF `<arch>.*` keys and Hugging Face config.json keys, with errors that name the
 * key. A family file fills a `TransformerConfig` (hyperparameters + block recipe), maps Hugging Face
 * tensor names to GGUF's, and collects its weights under GGUF names.
 */
import type { RopeLayout } from '../backend/types.js';
import { FormatError } from '../formats/byte-source.js';
import { metaNumber } from '../formats/gguf.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile, TensorRename } from '../formats/model-file.js';
import { llama3FreqFactors, type RopeScaling } from '../layers/rope-table.js';
import type { ModelFamily, TransformerConfig } from './config.js';
import type { EncoderWeights, TransformerWeights } from './weights.js';

export interface Architecture {
  readonly family: ModelFamily;
  /** GGUF `general.architecture` values this entry runs. */
  readonly gguf: readonly string[];
  /** Hugging Face config.json `architectures[0]` (or `model_type`) values this entry runs. */
  readonly huggingface: readonly string[];
  /** The `general.architecture` our converter writes for this family (llama.cpp's name). */
  readonly ggufName: string;
  /**
   * Whether llama.cpp's converter permutes this family's HF Q/K rows from the "half" (rotate_half)
   * RoPE layout to the interleaved one (Llama, Mistral); families llama.cpp runs with NEOX RoPE keep
   * them as they are.
   */
  readonly permuteQK: boolean;
  /** Hyperparameters and block recipe from the file's metadata (GGUF, config.json, llama2.c header). */
  config(mf: ModelFile): TransformerConfig;
  /** Hugging Face tensor name → GGUF name (transposed for Conv1D [in, out] weights), null = not a weight. */
  hfTensorName(name: string): TensorRename | null;
  /** The weights, read under GGUF names (the file is already renamed). Encoders throw: see encoderWeights. */
  weights(mf: ModelFile, c: TransformerConfig): TransformerWeights;
  /** Encoder families only (config.encoder set): their weights, run by ts/models/encoder.ts. */
  encoderWeights?(mf: ModelFile, c: TransformerConfig): EncoderWeights;
  /** The `<arch>.*` keys llama.cpp's converter writes for this config (general.* and tokenizer.* aside). */
  ggufMetadata(c: TransformerConfig): [string, GGUFWriteValue][];
  /**
   * A constant llama.cpp's converter adds to a Hugging Face tensor (GGUF name) before writing it
   * (Gemma's norms: HF stores w − 1); `weights` applies the same shift when reading a HF folder.
   */
  hfShift?(ggufName: string): number;
  /** Tensors the converter adds from the config (e.g. Llama 3's rope_freqs); default none. */
  extraTensors?(c: TransformerConfig): { name: string; data: Float32Array }[];
}

/** A model file whose architecture (or a feature of it) tensorloom does not run. */
export class UnsupportedArchitectureError extends Error {
  override readonly name = 'UnsupportedArchitectureError';
}

// ── reading metadata ─────────────────────────────────────────────────────────────────────────────

function positive(v: number | undefined, what: string, where: string): number {
  if (v === undefined || !Number.isSafeInteger(v) || v <= 0) throw new FormatError(`${where}: ${what} is ${v === undefined ? 'missing' : `invalid (${v})`}`);
  return v;
}

/** GGUF `<arch>.<key>` numbers; `need` throws naming the full key. */
export class GGUFKeys {
  readonly arch: string;
  readonly where: string;
  constructor(readonly mf: ModelFile) {
    if (!mf.gguf) throw new Error(`tensorloom: ${mf.path} is not a GGUF file`);
    this.arch = mf.architecture;
    this.where = `${mf.path} (${mf.architecture})`;
  }
  key(k: string): string {
    return `${this.arch}.${k}`;
  }
  has(k: string): boolean {
    return this.mf.gguf!.metadata.has(this.key(k));
  }
  num(k: string): number | undefined {
    return metaNumber(this.mf.gguf!, this.key(k));
  }
  need(k: string): number {
    return positive(this.num(k), this.key(k), this.where);
  }
}

/** config.json numbers, trying each alias in turn; `need` throws naming the first key. */
export class HFKeys {
  readonly cfg: Readonly<Record<string, unknown>>;
  readonly where: string;
  constructor(readonly mf: ModelFile) {
    if (!mf.hfConfig) throw new Error(`tensorloom: ${mf.path} is not a Hugging Face directory`);
    this.cfg = mf.hfConfig;
    this.where = `${mf.path}/config.json`;
  }
  num(...keys: string[]): number | undefined {
    for (const k of keys) {
      const v = this.cfg[k];
      if (typeof v === 'number') return v;
    }
    return undefined;
  }
  need(...keys: string[]): number {
    return positive(this.num(...keys), keys[0]!, this.where);
  }
}

/** The block shape shared by most decoders; families override what differs. */
export interface Recipe {
  norm: TransformerConfig['norm'];
  mlp: TransformerConfig['mlp'];
  positions: 'rope' | 'learned';
  /** RoPE pair layout of the GGUF file's Q/K rows (HF checkpoints are always 'half'). */
  ggufRopeLayout: RopeLayout;
}

/** The standard hyperparameters from GGUF keys (llama.cpp's LLM_KV names). */
export function configFromGGUF(mf: ModelFile, family: ModelFamily, r: Recipe): TransformerConfig {
  const k = new GGUFKeys(mf);
  const dim = k.need('embedding_length');
  const nHeads = k.need('attention.head_count');
  const headDim = positive(k.num('attention.key_length') ?? dim / nHeads, k.key('attention.key_length'), k.where);
  const tokens = mf.gguf!.metadata.get('tokenizer.ggml.tokens');
  const vocab = k.num('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? mf.tensors.get('token_embd.weight')?.shape[0];
  const rms = k.num('attention.layer_norm_rms_epsilon');
  const { bos, eos } = specialTokens(mf);
  const ropeDims = k.num('rope.dimension_count') ?? headDim;
  const ropeScaling = r.positions === 'rope' ? ropeScalingFromGGUF(k, ropeDims) : undefined;
  return {
    family,
    architecture: mf.architecture,
    vocabSize: positive(vocab, 'vocab size', k.where),
    dim,
    nLayers: k.need('block_count'),
    nHeads,
    nKvHeads: k.has('attention.head_count_kv') ? k.need('attention.head_count_kv') : nHeads,
    headDim,
    hiddenDim: k.need('feed_forward_length'),
    contextLength: k.need('context_length'),
    norm: r.norm,
    normEps: (r.norm === 'rmsnorm' ? rms : k.num('attention.layer_norm_epsilon')) ?? rms ?? 1e-5,
    mlp: r.mlp,
    rope: r.positions === 'rope'
      ? { theta: k.num('rope.freq_base') ?? 10000, layout: r.ggufRopeLayout, ...optionalDims(k.num('rope.dimension_count'), headDim) }
      : null,
    qkvBias: mf.has('blk.0.attn_q.bias') || mf.has('blk.0.attn_qkv.bias'),
    outBias: mf.has('blk.0.attn_output.bias'),
    ...(ropeScaling ? { ropeScaling } : {}),
    bosTokenId: bos,
    eosTokenIds: eos,
  };
}

/**
 * `<arch>.rope.scaling.*` keys and the rope_freqs tensor, read as llama.cpp reads them (its
 * loader ignores the yarn_beta_* and yarn_attn_factor keys, so they change nothing here either).
 */
function ropeScalingFromGGUF(k: GGUFKeys, dims: number): RopeScaling | undefined {
  const type = k.mf.gguf!.metadata.get(k.key('rope.scaling.type'));
  const factor = k.num('rope.scaling.factor') ?? k.num('rope.scale_linear') ?? 0;
  const mf = k.mf;
  const freqFactors = mf.has('rope_freqs.weight') ? mf.vector('rope_freqs.weight') : undefined;
  if (freqFactors && freqFactors.length !== dims / 2) {
    throw new FormatError(`${k.where}: rope_freqs.weight has ${freqFactors.length} elements, expected ${dims / 2} (rope.dimension_count / 2)`);
  }
  const t = type === undefined ? 'linear' : String(type);
  if (t === 'none' || (t === 'linear' && (factor === 0 || factor === 1))) return freqFactors ? { type: 'llama3', factor: 1, freqFactors } : undefined;
  if (t === 'linear') return { type: 'linear', factor, ...(freqFactors ? { freqFactors } : {}) };
  if (t === 'yarn') {
    const originalContext = k.num('rope.scaling.original_context_length') ?? k.need('context_length');
    const attnFactor = k.num('rope.scaling.attn_factor');
    const yarnAttnFactor = k.num('rope.scaling.yarn_attn_factor'); // llama.cpp's loader reads it for Grok only: kept, not used
    return {
      type: 'yarn', factor: factor || 1, originalContext,
      ...(attnFactor !== undefined ? { attnFactor } : {}), ...(yarnAttnFactor !== undefined ? { yarnAttnFactor } : {}), ...(freqFactors ? { freqFactors } : {}),
    };
  }
  throw new UnsupportedArchitectureError(`tensorloom: ${k.where}: ${k.key('rope.scaling.type')} '${t}' is not supported (supported: none, linear, yarn, and llama3 rope_freqs)`);
}

/** config.json `rope_scaling` (or `rope_parameters`): llama3, linear, yarn; default/none = plain RoPE. */
function ropeScalingFromHF(k: HFKeys, theta: number, dims: number): RopeScaling | undefined {
  const raw = (k.cfg.rope_parameters ?? k.cfg.rope_scaling) as Record<string, unknown> | null | undefined;
  if (!raw || typeof raw !== 'object') return undefined;
  const p = (raw.full_attention ?? raw) as Record<string, unknown>;
  const n = (key: string): number | undefined => (typeof p[key] === 'number' ? (p[key] as number) : undefined);
  const t = String(p.rope_type ?? p.type ?? 'default');
  if (t === 'default') return undefined;
  if (t === 'linear') return { type: 'linear', factor: n('factor') ?? 1 };
  if (t === 'llama3') {
    const freqFactors = llama3FreqFactors(theta, dims, {
      ...opt('factor', n('factor')), ...opt('lowFreqFactor', n('low_freq_factor')), ...opt('highFreqFactor', n('high_freq_factor')), ...opt('originalContext', n('original_max_position_embeddings')),
    });
    return { type: 'llama3', factor: 1, freqFactors };
  }
  if (t === 'yarn') {
    const originalContext = n('original_max_position_embeddings');
    if (originalContext === undefined) throw new FormatError(`${k.where}: rope_scaling (yarn) needs original_max_position_embeddings`);
    const factor = n('factor') ?? 1;
    return { type: 'yarn', factor, originalContext, ...opt('betaFast', n('beta_fast')), ...opt('betaSlow', n('beta_slow')), ...yarnMagnitude(k, factor, n) };
  }
  throw new UnsupportedArchitectureError(`tensorloom: ${k.where}: rope_scaling '${t}' is not supported (supported: default, linear, yarn, llama3)`);
}

/**
 * The cos/sin magnitude of a YaRN config.json, as Hugging Face computes it: `attention_factor` when
 * given, else get(mscale) / get(mscale_all_dim) when both are set, else get(1), with get(m) =
 * 0.1 * m * ln(factor) + 1 (1 for factor <= 1). llama.cpp always applies get(1) and multiplies by
 * rope.scaling.attn_factor, so the magnitude is kept relative to get(1) (as f32, the GGUF's type).
 */
function yarnMagnitude(k: HFKeys, factor: number, n: (key: string) => number | undefined): { attnFactor?: number; yarnAttnFactor?: number } {
  const get = (m: number): number => (factor <= 1 ? 1 : 0.1 * m * Math.log(factor) + 1);
  const given = n('attention_factor') ?? n('attn_factor');
  if (given !== undefined && !(given > 0 && Number.isFinite(given))) throw new FormatError(`${k.where}: rope_scaling.attention_factor must be a finite number > 0, got ${given}`);
  const mscale = n('mscale');
  const all = n('mscale_all_dim');
  const magnitude = given ?? (mscale && all ? get(mscale) / get(all) : undefined);
  if (magnitude === undefined) return {};
  return { attnFactor: Math.fround(magnitude / get(1)), ...(given !== undefined ? { yarnAttnFactor: Math.fround(given) } : {}) };
}

function opt<K extends string>(key: K, v: number | undefined): { [P in K]?: number } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: number };
}

/** The standard hyperparameters from a Hugging Face config.json (Llama-style key names, GPT-2 aliases). */
export function configFromHF(mf: ModelFile, family: ModelFamily, r: Recipe): TransformerConfig {
  const k = new HFKeys(mf);
  const dim = k.need('hidden_size', 'n_embd');
  const nHeads = k.need('num_attention_heads', 'n_head');
  const headDim = positive(k.num('head_dim') ?? dim / nHeads, 'head_dim', k.where);
  const hasOutput = mf.has('output.weight');
  if (!hasOutput && k.cfg.tie_word_embeddings === false) throw new FormatError(`${mf.path}: config says tie_word_embeddings=false but there is no lm_head.weight`);
  const { bos, eos } = specialTokens(mf);
  const theta = k.num('rope_theta') ?? ((k.cfg.rope_parameters as { rope_theta?: number } | undefined)?.rope_theta) ?? 10000;
  const ropeDims = headDim * (k.num('partial_rotary_factor') ?? 1);
  const ropeScaling = r.positions === 'rope' ? ropeScalingFromHF(k, theta, ropeDims) : undefined;
  return {
    family,
    architecture: mf.architecture,
    vocabSize: k.need('vocab_size'),
    dim,
    nLayers: k.need('num_hidden_layers', 'n_layer'),
    nHeads,
    nKvHeads: k.num('num_key_value_heads') !== undefined ? k.need('num_key_value_heads') : nHeads,
    headDim,
    hiddenDim: r.mlp === 'gelu' ? (k.num('intermediate_size', 'n_inner') ?? 4 * dim) : k.need('intermediate_size'),
    contextLength: k.need('max_position_embeddings', 'n_positions', 'n_ctx'),
    norm: r.norm,
    normEps: k.num('rms_norm_eps', 'layer_norm_epsilon', 'layer_norm_eps') ?? 1e-5,
    mlp: r.mlp,
    rope: r.positions === 'rope'
      ? { theta, layout: 'half', ...optionalDims(ropeDims, headDim) }
      : null,
    qkvBias: mf.has('blk.0.attn_q.bias') || mf.has('blk.0.attn_qkv.bias'),
    outBias: mf.has('blk.0.attn_output.bias'),
    ...(ropeScaling ? { ropeScaling } : {}),
    bosTokenId: bos,
    eosTokenIds: eos,
  };
}

function optionalDims(dims: number | undefined, headDim: number): { dims?: number } {
  return dims !== undefined && dims !== headDim ? { dims } : {};
}

/** BOS/EOS ids as the file names them (GGUF tokenizer keys, config.json, llama2.c's fixed ids). */
export function specialTokens(mf: ModelFile): { bos: number | null; eos: number[] } {
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'bigint' ? Number(v) : null);
  if (mf.format === 'llama2c') return { bos: 1, eos: [2] }; // llama2.c's run.c / sentencepiece ids
  if (mf.gguf) {
    const m = mf.gguf.metadata;
    const eos = [num(m.get('tokenizer.ggml.eos_token_id')), num(m.get('tokenizer.ggml.eot_token_id'))].filter((x): x is number => x !== null);
    return { bos: num(m.get('tokenizer.ggml.bos_token_id')), eos: [...new Set(eos)] };
  }
  const h = mf.hfConfig ?? {};
  const e = h.eos_token_id;
  const eos = Array.isArray(e) ? e.map(num).filter((x): x is number => x !== null) : num(e) !== null ? [num(e)!] : [];
  return { bos: num(h.bos_token_id), eos };
}

/** The `<arch>.*` keys every llama.cpp decoder has, with llama.cpp's value types. */
export function standardGGUFMetadata(arch: string, c: TransformerConfig): [string, GGUFWriteValue][] {
  const k = (s: string) => `${arch}.${s}`;
  const meta: [string, GGUFWriteValue][] = [
    [k('context_length'), u32(c.contextLength)],
    [k('embedding_length'), u32(c.dim)],
    [k('feed_forward_length'), u32(c.hiddenDim)],
    [k('block_count'), u32(c.nLayers)],
    [k('attention.head_count'), u32(c.nHeads)],
  ];
  if (c.rope) {
    meta.push(
      [k('attention.head_count_kv'), u32(c.nKvHeads)],
      [k('rope.dimension_count'), u32(c.rope.dims ?? c.headDim)],
      [k('rope.freq_base'), f32(c.rope.theta)],
    );
  }
  meta.push([k(c.norm === 'rmsnorm' ? 'attention.layer_norm_rms_epsilon' : 'attention.layer_norm_epsilon'), f32(c.normEps)]);
  if (c.headDim !== c.dim / c.nHeads) meta.push([k('attention.key_length'), u32(c.headDim)], [k('attention.value_length'), u32(c.headDim)]);
  const s = c.ropeScaling;
  if (s?.type === 'linear') meta.push([k('rope.scaling.type'), 'linear'], [k('rope.scaling.factor'), f32(s.factor)]);
  if (s?.type === 'yarn') {
    meta.push([k('rope.scaling.type'), 'yarn'], [k('rope.scaling.factor'), f32(s.factor)], [k('rope.scaling.original_context_length'), u32(s.originalContext ?? c.contextLength)]);
    if (s.yarnAttnFactor !== undefined) meta.push([k('rope.scaling.yarn_attn_factor'), f32(s.yarnAttnFactor)]);
    if (s.betaFast !== undefined) meta.push([k('rope.scaling.yarn_beta_fast'), f32(s.betaFast)]);
    if (s.betaSlow !== undefined) meta.push([k('rope.scaling.yarn_beta_slow'), f32(s.betaSlow)]);
    // llama.cpp's converter stops at yarn_attn_factor, which its loader ignores (Grok aside); the
    // magnitude also goes where every family's loader reads it, so llama.cpp runs the config's function
    if (s.attnFactor !== undefined) meta.push([k('rope.scaling.attn_factor'), f32(s.attnFactor)]);
  }
  meta.push([k('vocab_size'), u32(c.vocabSize)]);
  return meta;
}

/** Tensors llama.cpp's converter adds that the checkpoint does not hold: Llama 3's rope_freqs. */
export function ropeExtraTensors(c: TransformerConfig): { name: string; data: Float32Array }[] {
  const f = c.ropeScaling?.type === 'llama3' ? c.ropeScaling.freqFactors : undefined;
  return f ? [{ name: 'rope_freqs.weight', data: f }] : [];
}

/**
 * Hugging Face Llama-style tensor names (`model.layers.N.self_attn.q_proj.weight` …) → GGUF names;
 * `parts` adds or overrides per-layer parts (e.g. Qwen3's `self_attn.q_norm` → `attn_q_norm`).
 */
export function llamaStyleHfName(name: string, parts: Readonly<Record<string, string>> = {}): TensorRename | null {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[name]) return { name: fixed[name]! };
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
  if (!m) return null;
  const part = parts[m[2]!] ?? LLAMA_PARTS[m[2]!];
  if (!part) return null; // e.g. rotary_emb.inv_freq buffers
  return { name: `blk.${m[1]}.${part}.${m[3]}` };
}

const LLAMA_PARTS: Readonly<Record<string, string>> = {
  input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm',
  'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
  'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
};
