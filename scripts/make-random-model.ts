/**
 * Random-weight models for tests and benchmarks, reproducible from a seed.
 *
 *   npx tsx scripts/make-random-model.ts --arch llama|qwen2|qwen3|qwen3moe|smollm3|mistral3|gemma2|gemma3|gemma4|phi3|gpt2|qwen35|qwen35moe|qwen3next --size tiny|110m|1b|0.8b
 *       [--type f32|f16|q8_0] [--rope-scaling llama3|linear|yarn] [--experts N] [--seed N]
 *       [--gguf OUT.gguf] [--hf OUT_DIR]
 *
 * Families: llama (Llama 2/3 layout; --rope-scaling writes config.json's rope_scaling as Llama 3.x,
 * linear or YaRN models do, with an original context of a quarter of the context), qwen2 (Q/K/V
 * biases), qwen3 (per-head q/k RMSNorm), qwen3moe (qwen3 attention, 8 experts of width 64, top-2),
 * smollm3 (4 layers, the fourth without RoPE), mistral3 (Ministral 3: YaRN with mscale_all_dim, query
 * temperature), gemma2 (tied head, four norms stored as w − 1 as HF does,
 * sliding window 16 on even layers, soft-caps 10 (attention) and 15 (final) so both bite), gemma3
 * (6 layers: five local (window 16, RoPE base 10000), one global (base 1e6, linear RoPE scaling ×8),
 * q/k norms), phi3 (fused qkv_proj and gate_up_proj, partial rotary 0.75 as Phi-4-mini, LongRoPE
 * factors with an original context of 64), gpt2; `--experts N` makes llama a Mixtral (N experts, top-2, HF MixtralForCausalLM names). The GGUF is written by our converter with the keys
 * and tensor names llama.cpp's converter writes for that family (e.g. rope_freqs for llama3).
 * qwen35 (GGUF only, f32 or f16 matrices): Gated DeltaNet layers and a gated full-attention layer
 * every fourth, written straight under llama.cpp's names, with the llama model's random BPE vocabulary;
 * qwen35moe: the same with 4 routed experts of width 32 (top-2) and a gated shared expert of width 48;
 * qwen3next: qwen35moe's shapes under Qwen3-Next's names (ssm_ba for β|α, no M-RoPE sections).
 * gemma4 (tiny or 110m, f32 or f16 matrices; see GEMMA4_TINY, GEMMA4_110M): written straight under llama.cpp's names with
 * the llama model's random BPE vocabulary; --hf writes the same weights as a Gemma 4 checkpoint
 * (config.json with text_config, model.language_model.* names, f32); --experts N adds the 26B-A4B's
 * routed experts (top-2, width 32) beside the dense MLP in every layer.
 * --size 1b (llama only): Llama-3.2-1B's shape, for benches. --size 0.8b (qwen35 only): Qwen3.5-0.8B's
 * shape (dim 1024, 24 layers, 8 heads of 256 with 2 KV heads, 16 + 16 DeltaNet heads of 128, FFN
 * 3584) with a 32000-token vocabulary instead of 248320, for benches.
 *
 * --hf writes a Hugging Face directory: config.json, model.safetensors (f32, or f16 with
 * --type f16; safetensors has no q8_0, so q8_0 writes f32 there) and a byte-level BPE tokenizer.json.
 * --gguf writes the same model through tensorloom's converter (Q/K permuted to llama.cpp's
 * interleaved layout, Conv1D transposed, tokenizer embedded), so both hold the same function.
 *
 * Sizes (see CONFIGS): tiny (≈ 0.1 M parameters) for tests; 110m = dim 768, 12 layers, 12 heads,
 * FFN 2048, vocab 32000 for Llama, and GPT-2 124M's shape (FFN 3072, vocab 50257) for GPT-2.
 * Weights: uniform with std 1/√fan_in for matrices (activations stay O(1), so greedy top-1
 * tokens are far from ties), std 1 embeddings (0.1 for GPT-2's tied table, else every token
 * predicts itself), norm weights 1 ± 0.1, small biases.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { f32ArrayToF16 } from '../ts/formats/dtype-convert.js';
import { openModelFile } from '../ts/formats/model-file.js';
import { convertModel, modelToGGUF } from '../ts/models/convert.js';
import { f32, u32, writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../ts/formats/gguf-writer.js';
import { writeSafetensors, type SafetensorsWriteTensor } from '../ts/formats/safetensors-writer.js';
import { makeRandomEncoder, type EncoderPooling, type EncoderSize } from './make-random-encoder.js';
import { makeRandomT5, type T5Size } from './make-random-t5.js';

export type Arch = 'llama' | 'qwen2' | 'qwen3' | 'qwen3moe' | 'smollm3' | 'mistral3' | 'gemma2' | 'gemma3' | 'phi3' | 'gpt2';
export const ARCHS: readonly Arch[] = ['llama', 'qwen2', 'qwen3', 'qwen3moe', 'smollm3', 'mistral3', 'gemma2', 'gemma3', 'phi3', 'gpt2'];
/** Gemma's tiny-model extras: a window shorter than the test prompts, caps the random logits reach. */
export const GEMMA_TINY = { slidingWindow: 16, attnSoftcap: 10, finalSoftcap: 15 };
/** qwen3moe's experts: count, used per token, width. */
const QWEN3MOE_EXPERTS = { experts: 8, used: 2, hidden: 64 };
export type RopeScalingKind = 'llama3' | 'linear' | 'yarn';
/** What --arch takes: the HF-checkpoint families above, and qwen35 (written straight to GGUF). */
export type RandomArch = Arch | 'qwen35' | 'qwen35moe' | 'qwen3next' | 'gemma4';
/** The hybrid (Gated DeltaNet) families, written straight to GGUF. */
export const HYBRID_ARCHS = ['qwen35', 'qwen35moe', 'qwen3next'] as const;
const isHybrid = (a: RandomArch): a is (typeof HYBRID_ARCHS)[number] => (HYBRID_ARCHS as readonly string[]).includes(a);
export type Size = 'tiny' | '110m' | '1b' | '0.8b';
export type WeightType = 'f32' | 'f16' | 'q8_0';

export interface RandomConfig {
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
}

const LLAMA_SIZES: Record<'tiny' | '110m', RandomConfig> & Partial<Record<Size, RandomConfig>> = {
  tiny: { dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 160, vocabSize: 512, contextLength: 256 },
  '110m': { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 2048, vocabSize: 32000, contextLength: 1024 },
  // Llama-3.2-1B's shape, for benches
  '1b': { dim: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, ffnDim: 8192, vocabSize: 128256, contextLength: 2048 },
};

export const CONFIGS: Record<Arch, Record<'tiny' | '110m', RandomConfig> & Partial<Record<Size, RandomConfig>>> = {
  llama: LLAMA_SIZES,
  qwen2: { tiny: LLAMA_SIZES.tiny, '110m': LLAMA_SIZES['110m'] },
  qwen3: { tiny: LLAMA_SIZES.tiny, '110m': LLAMA_SIZES['110m'] },
  qwen3moe: { tiny: LLAMA_SIZES.tiny, '110m': LLAMA_SIZES['110m'] },
  // 4 layers: the fourth is a NoPE layer
  smollm3: { tiny: { ...LLAMA_SIZES.tiny, nLayers: 4 }, '110m': LLAMA_SIZES['110m'] },
  mistral3: LLAMA_SIZES,
  gemma2: LLAMA_SIZES,
  // 6 layers: llama.cpp's default pattern makes layers 0–4 local and layer 5 global
  gemma3: { tiny: { ...LLAMA_SIZES.tiny, nLayers: 6 }, '110m': LLAMA_SIZES['110m'] },
  phi3: LLAMA_SIZES,
  gpt2: {
    tiny: { dim: 64, nLayers: 2, nHeads: 4, nKvHeads: 4, ffnDim: 256, vocabSize: 512, contextLength: 256 },
    '110m': { dim: 768, nLayers: 12, nHeads: 12, nKvHeads: 12, ffnDim: 3072, vocabSize: 50257, contextLength: 1024 },
  },
};

export interface MakeOptions {
  arch: RandomArch;
  size: Size;
  type?: WeightType;
  seed?: number;
  /** Write a GGUF file here. */
  gguf?: string;
  /** Write a Hugging Face directory here. */
  hf?: string;
  /**
   * qwen35 only, for bad-input tests: the `full_attention_interval` written in the metadata
   * (the tensors always follow an interval of 4), so the layer pattern no longer matches them.
   */
  qwen35MetadataInterval?: number;
  /** qwen3next only: store q, k, v and z in the older fused `ssm_in` tensor instead of attn_qkv + attn_gate. */
  qwen3nextFusedInput?: boolean;
  /** Hybrid families only, for bad-input tests: tensor names and metadata keys left out of the file. */
  omit?: readonly string[];
  /** llama only: config.json rope_scaling of this kind (original context = contextLength / 4). */
  ropeScaling?: RopeScalingKind;
  /** llama: a Mixtral of this many experts (top-2); gemma4: the 26B-A4B's experts beside the dense MLP. */
  experts?: number;
  /** gemma4 only: a variant llama.cpp also runs (no per-layer inputs, v = k, fused q/k/v). */
  gemma4?: Gemma4Variant;
  /** mistral3 only: config.json sliding_window (every layer). */
  slidingWindow?: number;
  onProgress?: (msg: string) => void;
}

/** A 32-bit integer hash (lowbias32), to derive independent streams from (seed, stream). */
function hash32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d);
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Two xorshift32 generators combined → uniform [0, 1); fast enough for 124 M weights. */
function prng(seed: number, stream = 0): () => number {
  let a = hash32((seed >>> 0) ^ hash32(stream + 0x9e3779b9)) | 1;
  let b = hash32(a ^ 0x85ebca6b) | 1;
  return () => {
    a ^= a << 13; a ^= a >>> 17; a ^= a << 5;
    b ^= b << 17; b ^= b >>> 15; b ^= b << 26;
    return ((a ^ b) >>> 0) / 4294967296;
  };
}

/** Uniform values with the given mean and standard deviation. */
function fill(n: number, rand: () => number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  const half = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) out[i] = mean + (rand() * 2 - 1) * half;
  return out;
}

// ── tokenizer: byte-level BPE (GPT-2's byte ↔ unicode mapping) with seeded merges ─────────────────

function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let c = 33; c <= 126; c++) bs.push(c);
  for (let c = 161; c <= 172; c++) bs.push(c);
  for (let c = 174; c <= 255; c++) bs.push(c);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table: string[] = new Array(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i]!)));
  return table;
}

/** A BPE vocabulary of `vocabSize` tokens: 256 bytes, seeded merges, `<|endoftext|>` last. */
export function randomBPE(vocabSize: number, seed: number): { tokens: string[]; merges: [string, string][] } {
  const table = bytesToUnicode();
  // Base tokens in GPT-2's order (printable bytes first), as in its vocab.json.
  const order = [...Array(256).keys()].sort((x, y) => table[x]!.codePointAt(0)! - table[y]!.codePointAt(0)!);
  const tokens = order.map((b) => table[b]!);
  const seen = new Set(tokens);
  const merges: [string, string][] = [];
  const rand = prng(seed, 0x70c3);
  // Favour letters and the space marker so merges look like words ("Ġt", "he", "Ġthe" …).
  const common = [...' etaoinshrdlucmfwypvbgk'].map((ch) => table[ch.charCodeAt(0)]!);
  while (tokens.length < vocabSize - 1) {
    const pick = () => (rand() < 0.5 ? common[Math.floor(rand() * common.length)]! : tokens[Math.floor(rand() * tokens.length)]!);
    const a = pick();
    const b = pick();
    const t = a + b;
    if (seen.has(t) || [...t].length > 16) continue;
    seen.add(t);
    tokens.push(t);
    merges.push([a, b]);
  }
  tokens.push('<|endoftext|>');
  return { tokens, merges };
}

function tokenizerJson(tokens: string[], merges: [string, string][]): string {
  const eos = tokens.length - 1;
  const vocab: Record<string, number> = {};
  tokens.slice(0, eos).forEach((t, i) => (vocab[t] = i));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [{ id: eos, content: tokens[eos], single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`) },
  });
}

// ── weights in Hugging Face naming and layout ────────────────────────────────────────────────

interface HFTensor {
  name: string;
  shape: number[];
  make: () => Float32Array;
}

/**
 * Gemma 2 checkpoints: Llama's attention and gated MLP, four norms per layer stored as HF does
 * (w, the model scaling by 1 + w), a tied head (no lm_head), embeddings of std 0.1 (× √dim at run time).
 */
function gemmaTensors(arch: 'gemma2' | 'gemma3', c: RandomConfig, seed: number): HFTensor[] {
  const out: HFTensor[] = [];
  let index = 0;
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const i = index++;
    out.push({ name, shape, make: () => fill(shape.reduce((a, b) => a * b, 1), prng(seed, i), std, mean) });
  };
  const { dim, ffnDim: ffn, vocabSize: V } = c;
  const hd = dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('model.embed_tokens.weight', [V, dim], 0.05);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [dim], 0.1);
    add(`${p}.self_attn.q_proj.weight`, [dim, dim], w(dim));
    add(`${p}.self_attn.k_proj.weight`, [kv, dim], w(dim));
    add(`${p}.self_attn.v_proj.weight`, [kv, dim], w(dim));
    if (arch === 'gemma3') {
      add(`${p}.self_attn.q_norm.weight`, [hd], 0.1);
      add(`${p}.self_attn.k_norm.weight`, [hd], 0.1);
    }
    add(`${p}.self_attn.o_proj.weight`, [dim, dim], w(dim));
    add(`${p}.post_attention_layernorm.weight`, [dim], 0.1, 1);
    add(`${p}.pre_feedforward_layernorm.weight`, [dim], 0.1);
    add(`${p}.mlp.gate_proj.weight`, [ffn, dim], w(dim));
    add(`${p}.mlp.up_proj.weight`, [ffn, dim], w(dim));
    add(`${p}.mlp.down_proj.weight`, [dim, ffn], w(ffn));
    add(`${p}.post_feedforward_layernorm.weight`, [dim], 0.1, 1);
  }
  add('model.norm.weight', [dim], 0.1);
  return out;
}

/** Phi-3 checkpoints: fused qkv_proj [q | k | v] and gate_up_proj [gate | up]. */
function phi3Tensors(c: RandomConfig, seed: number): HFTensor[] {
  const out: HFTensor[] = [];
  let index = 0;
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const i = index++;
    out.push({ name, shape, make: () => fill(shape.reduce((a, b) => a * b, 1), prng(seed, i), std, mean) });
  };
  const { dim, ffnDim: ffn, vocabSize: V } = c;
  const kv = c.nKvHeads * (dim / c.nHeads);
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('model.embed_tokens.weight', [V, dim], 1);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [dim], 0.1, 1);
    add(`${p}.self_attn.qkv_proj.weight`, [dim + 2 * kv, dim], w(dim));
    add(`${p}.self_attn.o_proj.weight`, [dim, dim], w(dim));
    add(`${p}.post_attention_layernorm.weight`, [dim], 0.1, 1);
    add(`${p}.mlp.gate_up_proj.weight`, [2 * ffn, dim], w(dim));
    add(`${p}.mlp.down_proj.weight`, [dim, ffn], w(ffn));
  }
  add('model.norm.weight', [dim], 0.1, 1);
  add('lm_head.weight', [V, dim], w(dim));
  return out;
}

/** Llama-style checkpoints (llama, qwen2, qwen3): Llama names plus each family's extras. */
function llamaLikeTensors(arch: Exclude<Arch, 'gpt2'>, c: RandomConfig, seed: number, mixtralExperts = 0): HFTensor[] {
  const out: HFTensor[] = [];
  let index = 0;
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const i = index++;
    out.push({ name, shape, make: () => fill(shape.reduce((a, b) => a * b, 1), prng(seed, i), std, mean) });
  };
  const { dim, ffnDim: ffn, vocabSize: V } = c;
  const hd = dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('model.embed_tokens.weight', [V, dim], 1);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [dim], 0.1, 1);
    add(`${p}.self_attn.q_proj.weight`, [dim, dim], w(dim));
    add(`${p}.self_attn.k_proj.weight`, [kv, dim], w(dim));
    add(`${p}.self_attn.v_proj.weight`, [kv, dim], w(dim));
    if (arch === 'qwen2') {
      add(`${p}.self_attn.q_proj.bias`, [dim], 0.1);
      add(`${p}.self_attn.k_proj.bias`, [kv], 0.1);
      add(`${p}.self_attn.v_proj.bias`, [kv], 0.1);
    }
    if (arch === 'qwen3' || arch === 'qwen3moe') {
      add(`${p}.self_attn.q_norm.weight`, [hd], 0.1, 1);
      add(`${p}.self_attn.k_norm.weight`, [hd], 0.1, 1);
    }
    if (arch === 'gemma3') {
      add(`${p}.self_attn.q_norm.weight`, [hd], 0.1);
      add(`${p}.self_attn.k_norm.weight`, [hd], 0.1);
    }
    add(`${p}.self_attn.o_proj.weight`, [dim, dim], w(dim));
    add(`${p}.post_attention_layernorm.weight`, [dim], 0.1, 1);
    if (mixtralExperts > 0) {
      add(`${p}.block_sparse_moe.gate.weight`, [mixtralExperts, dim], w(dim));
      for (let e = 0; e < mixtralExperts; e++) {
        add(`${p}.block_sparse_moe.experts.${e}.w1.weight`, [ffn, dim], w(dim));
        add(`${p}.block_sparse_moe.experts.${e}.w2.weight`, [dim, ffn], w(ffn));
        add(`${p}.block_sparse_moe.experts.${e}.w3.weight`, [ffn, dim], w(dim));
      }
    } else if (arch === 'qwen3moe') {
      const { experts, hidden } = QWEN3MOE_EXPERTS;
      add(`${p}.mlp.gate.weight`, [experts, dim], w(dim));
      for (let e = 0; e < experts; e++) {
        add(`${p}.mlp.experts.${e}.gate_proj.weight`, [hidden, dim], w(dim));
        add(`${p}.mlp.experts.${e}.up_proj.weight`, [hidden, dim], w(dim));
        add(`${p}.mlp.experts.${e}.down_proj.weight`, [dim, hidden], w(hidden));
      }
    } else {
      add(`${p}.mlp.gate_proj.weight`, [ffn, dim], w(dim));
      add(`${p}.mlp.up_proj.weight`, [ffn, dim], w(dim));
      add(`${p}.mlp.down_proj.weight`, [dim, ffn], w(ffn));
    }
  }
  add('model.norm.weight', [dim], 0.1, 1);
  add('lm_head.weight', [V, dim], w(dim));
  return out;
}

function hfTensors(arch: Arch, c: RandomConfig, seed: number, experts = 0): HFTensor[] {
  if (arch === 'gemma2' || arch === 'gemma3') return gemmaTensors(arch, c, seed);
  if (arch === 'phi3') return phi3Tensors(c, seed);
  if (arch !== 'gpt2') return llamaLikeTensors(arch, c, seed, experts);
  const out: HFTensor[] = [];
  let index = 0;
  // Each tensor gets its own stream (seed, index), so tensors can be produced lazily in any order.
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const i = index++;
    out.push({ name, shape, make: () => fill(shape.reduce((a, b) => a * b, 1), prng(seed, i), std, mean) });
  };
  const { dim, ffnDim: ffn, vocabSize: V } = c;
  const hd = dim / c.nHeads;
  const kv = c.nKvHeads * hd;
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  {
    add('wte.weight', [V, dim], 0.1); // tied head: a large embedding would make every token predict itself
    add('wpe.weight', [c.contextLength, dim], 0.1);
    for (let l = 0; l < c.nLayers; l++) {
      const p = `h.${l}`;
      add(`${p}.ln_1.weight`, [dim], 0.1, 1);
      add(`${p}.ln_1.bias`, [dim], 0.05);
      add(`${p}.attn.c_attn.weight`, [dim, 3 * dim], w(dim)); // Conv1D: [in, out]
      add(`${p}.attn.c_attn.bias`, [3 * dim], 0.05);
      add(`${p}.attn.c_proj.weight`, [dim, dim], w(dim));
      add(`${p}.attn.c_proj.bias`, [dim], 0.05);
      add(`${p}.ln_2.weight`, [dim], 0.1, 1);
      add(`${p}.ln_2.bias`, [dim], 0.05);
      add(`${p}.mlp.c_fc.weight`, [dim, ffn], w(dim));
      add(`${p}.mlp.c_fc.bias`, [ffn], 0.05);
      add(`${p}.mlp.c_proj.weight`, [ffn, dim], w(ffn));
      add(`${p}.mlp.c_proj.bias`, [dim], 0.05);
    }
    add('ln_f.weight', [dim], 0.1, 1);
    add('ln_f.bias', [dim], 0.05);
  }
  return out;
}

const HF_CLASS: Record<Arch, string> = { llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', qwen3moe: 'Qwen3MoeForCausalLM', smollm3: 'SmolLM3ForCausalLM', mistral3: 'Ministral3ForCausalLM', gemma2: 'Gemma2ForCausalLM', gemma3: 'Gemma3ForCausalLM', phi3: 'Phi3ForCausalLM', gpt2: 'GPT2LMHeadModel' };
const HF_TYPE: Record<Arch, string> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', qwen3moe: 'qwen3_moe', smollm3: 'smollm3', mistral3: 'ministral3', gemma2: 'gemma2', gemma3: 'gemma3_text', phi3: 'phi3', gpt2: 'gpt2' };

/** config.json rope_scaling as Llama 3.x, linear-interpolated and YaRN checkpoints write it. */
function ropeScalingConfig(kind: RopeScalingKind, c: RandomConfig): Record<string, unknown> {
  const original = c.contextLength / 4;
  if (kind === 'llama3') return { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: original };
  if (kind === 'linear') return { rope_type: 'linear', factor: 4 };
  // attention_factor: the cos/sin magnitude in Hugging Face's terms (YaRN's default would be 1 + 0.1 ln 4)
  return { rope_type: 'yarn', factor: 4, original_max_position_embeddings: original, attention_factor: 0.8 };
}

function hfConfig(arch: Arch, c: RandomConfig, dtype: string, ropeScaling?: RopeScalingKind, experts = 0, slidingWindow?: number): Record<string, unknown> {
  const eos = c.vocabSize - 1;
  if (arch === 'phi3') {
    const half = Math.floor((0.75 * c.dim) / c.nHeads) / 2; // rotary pairs per head
    return {
      architectures: [HF_CLASS[arch]], model_type: HF_TYPE[arch], hidden_size: c.dim, intermediate_size: c.ffnDim,
      num_attention_heads: c.nHeads, num_hidden_layers: c.nLayers, num_key_value_heads: c.nKvHeads, vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength, original_max_position_embeddings: c.contextLength / 4, partial_rotary_factor: 0.75,
      rope_scaling: { type: 'longrope', long_factor: Array.from({ length: half }, (_, i) => 1 + 1.5 * i), short_factor: Array.from({ length: half }, (_, i) => 1 + 0.1 * i) },
      rms_norm_eps: 1e-5, rope_theta: 10000, sliding_window: null, tie_word_embeddings: false,
      hidden_act: 'silu', bos_token_id: eos, eos_token_id: eos, torch_dtype: dtype,
    };
  }
  if (arch === 'gemma3') {
    const hd = c.dim / c.nHeads;
    return {
      architectures: [HF_CLASS[arch]], model_type: HF_TYPE[arch], hidden_size: c.dim, intermediate_size: c.ffnDim,
      num_attention_heads: c.nHeads, num_hidden_layers: c.nLayers, num_key_value_heads: c.nKvHeads, head_dim: hd, vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength, rms_norm_eps: 1e-6, rope_theta: 1000000, rope_local_base_freq: 10000,
      rope_scaling: { rope_type: 'linear', factor: 8 }, tie_word_embeddings: true,
      query_pre_attn_scalar: hd, sliding_window: GEMMA_TINY.slidingWindow, sliding_window_pattern: 6, final_logit_softcapping: null,
      hidden_activation: 'gelu_pytorch_tanh', bos_token_id: eos, eos_token_id: eos, torch_dtype: dtype,
    };
  }
  if (arch === 'gemma2') {
    const hd = c.dim / c.nHeads;
    return {
      architectures: [HF_CLASS[arch]], model_type: HF_TYPE[arch], hidden_size: c.dim, intermediate_size: c.ffnDim,
      num_attention_heads: c.nHeads, num_hidden_layers: c.nLayers, num_key_value_heads: c.nKvHeads, head_dim: hd, vocab_size: c.vocabSize,
      max_position_embeddings: c.contextLength, rms_norm_eps: 1e-6, rope_theta: 10000, tie_word_embeddings: true,
      query_pre_attn_scalar: hd, sliding_window: GEMMA_TINY.slidingWindow,
      attn_logit_softcapping: GEMMA_TINY.attnSoftcap, final_logit_softcapping: GEMMA_TINY.finalSoftcap,
      hidden_activation: 'gelu_pytorch_tanh', bos_token_id: eos, eos_token_id: eos, torch_dtype: dtype,
    };
  }
  if (arch !== 'gpt2') {
    const q = QWEN3MOE_EXPERTS;
    return {
      architectures: [experts > 0 ? 'MixtralForCausalLM' : HF_CLASS[arch]], model_type: experts > 0 ? 'mixtral' : HF_TYPE[arch], hidden_size: c.dim, intermediate_size: c.ffnDim,
      num_attention_heads: c.nHeads, num_hidden_layers: c.nLayers, num_key_value_heads: c.nKvHeads, vocab_size: c.vocabSize,
      ...(arch === 'qwen3' || arch === 'qwen3moe' ? { head_dim: c.dim / c.nHeads } : {}),
      ...(experts > 0 ? { num_local_experts: experts, num_experts_per_tok: 2 } : {}),
      ...(slidingWindow ? { sliding_window: slidingWindow } : {}),
      ...(arch === 'smollm3' ? { no_rope_layers: Array.from({ length: c.nLayers }, (_, i) => ((i + 1) % 4 === 0 ? 0 : 1)) } : {}),
      ...(arch === 'qwen3moe' ? { num_experts: q.experts, num_experts_per_tok: q.used, moe_intermediate_size: q.hidden, norm_topk_prob: true } : {}),
      max_position_embeddings: c.contextLength, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: false,
      ...(ropeScaling ? { rope_scaling: ropeScalingConfig(ropeScaling, c) } : {}),
      // Ministral 3: YaRN with mscale_all_dim and the Llama 4 query temperature (original context = ctx / 4)
      ...(arch === 'mistral3'
        ? { rope_parameters: { rope_type: 'yarn', rope_theta: 10000, factor: 4, original_max_position_embeddings: c.contextLength / 4, beta_fast: 16, beta_slow: 1, mscale: 1, mscale_all_dim: 0.5, llama_4_scaling_beta: 0.1 } }
        : {}),
      hidden_act: 'silu', bos_token_id: eos, eos_token_id: eos, torch_dtype: dtype,
    };
  }
  return {
    architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: c.dim, n_layer: c.nLayers, n_head: c.nHeads, n_inner: c.ffnDim,
    n_positions: c.contextLength, n_ctx: c.contextLength, vocab_size: c.vocabSize, layer_norm_epsilon: 1e-5,
    activation_function: 'gelu_new', tie_word_embeddings: true, bos_token_id: eos, eos_token_id: eos, torch_dtype: dtype,
  };
}

/** Writes the HF directory (always f32 or f16 safetensors). */
function writeHF(dir: string, arch: Arch, c: RandomConfig, seed: number, f16: boolean, progress?: (m: string) => void, ropeScaling?: RopeScalingKind, experts = 0, slidingWindow?: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(hfConfig(arch, c, f16 ? 'float16' : 'float32', ropeScaling, experts, slidingWindow), null, 2));
  const { tokens, merges } = randomBPE(c.vocabSize, seed);
  writeFileSync(join(dir, 'tokenizer.json'), tokenizerJson(tokens, merges));
  const tensors: SafetensorsWriteTensor[] = hfTensors(arch, c, seed, experts).map((t, i, all) => ({
    name: t.name,
    dtype: f16 ? 'F16' : 'F32',
    shape: t.shape,
    data: () => {
      progress?.(`[${i + 1}/${all.length}] ${t.name}`);
      const v = t.make();
      return f16 ? f32ArrayToF16(v) : v;
    },
  }));
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

// ── qwen35: written straight to GGUF under llama.cpp's names ─────────────────────────────────

/** Gated DeltaNet shape of the qwen35 sizes: key heads, value heads, head dims, conv width. */
/** qwen35 sizes (dense part; the Gated DeltaNet shape is QWEN35_SSM). */
export const QWEN35_CONFIGS: Partial<Record<Size, RandomConfig>> = {
  tiny: { dim: 64, nLayers: 4, nHeads: 4, nKvHeads: 2, ffnDim: 160, vocabSize: 512, contextLength: 4096 },
  '110m': { dim: 768, nLayers: 12, nHeads: 6, nKvHeads: 2, ffnDim: 2048, vocabSize: 32000, contextLength: 4096 },
  '0.8b': { dim: 1024, nLayers: 24, nHeads: 8, nKvHeads: 2, ffnDim: 3584, vocabSize: 32000, contextLength: 4096 },
};

export const QWEN35_SSM: Partial<Record<Size, { convKernel: number; nKHeads: number; nVHeads: number; headDim: number; ropeDims: number; headDimAttn: number }>> = {
  tiny: { convKernel: 4, nKHeads: 2, nVHeads: 4, headDim: 16, ropeDims: 8, headDimAttn: 16 },
  '110m': { convKernel: 4, nKHeads: 4, nVHeads: 8, headDim: 128, ropeDims: 64, headDimAttn: 128 },
  '0.8b': { convKernel: 4, nKHeads: 16, nVHeads: 16, headDim: 128, ropeDims: 64, headDimAttn: 256 },
};

/** The tokenizer keys of the llama model with the same vocabulary size (a BPE llama.cpp loads). */
function randomTokenizerMeta(V: number, seed: number): [string, GGUFWriteValue][] {
  const tokDir = mkdtempSync(join(tmpdir(), 'tl-random-tok-'));
  try {
    writeHF(tokDir, 'llama', { ...CONFIGS.llama.tiny, vocabSize: V }, seed, false);
    using m = openModelFile(tokDir);
    return [...modelToGGUF(m).metadata].filter(([k]) => k.startsWith('tokenizer.')) as [string, GGUFWriteValue][];
  } finally {
    rmSync(tokDir, { recursive: true, force: true });
  }
}

function writeQwen35(o: MakeOptions, seed: number, type: WeightType): void {
  const c = QWEN35_CONFIGS[o.size];
  if (!c) throw new Error(`unknown --size ${o.size}`);
  if (o.hf) throw new Error('--arch qwen35 writes GGUF only (no --hf)');
  if (type === 'q8_0') throw new Error('--arch qwen35: --type f32 or f16');
  const s = QWEN35_SSM[o.size];
  if (!s) throw new Error(`unknown --size ${o.size}`);
  const D = s.headDimAttn;
  const { dim, ffnDim: ffn, vocabSize: V, nLayers } = c;
  const convC = 2 * s.nKHeads * s.headDim + s.nVHeads * s.headDim;
  const vDim = s.nVHeads * s.headDim;
  const tokenizerMeta = randomTokenizerMeta(V, seed);
  const arch = o.arch === 'qwen35moe' || o.arch === 'qwen3next' ? o.arch : 'qwen35';
  const next = arch === 'qwen3next';
  const moe = arch !== 'qwen35' ? { experts: 4, used: 2, hidden: 32, shared: 48 } : null;
  const k = (x: string) => `${arch}.${x}`;
  const metadata: [string, GGUFWriteValue][] = [
    ['general.architecture', arch],
    ['general.name', `random-${arch}-${o.size}-seed${seed}`],
    [k('context_length'), u32(c.contextLength)],
    [k('embedding_length'), u32(dim)],
    [k('feed_forward_length'), u32(ffn)],
    [k('block_count'), u32(nLayers)],
    [k('attention.head_count'), u32(c.nHeads)],
    [k('attention.head_count_kv'), u32(c.nKvHeads)],
    [k('attention.key_length'), u32(D)],
    [k('attention.value_length'), u32(D)],
    [k('rope.dimension_count'), u32(s.ropeDims)],
    ...(next ? [] : ([[k('rope.dimension_sections'), Int32Array.from([s.ropeDims / 4, s.ropeDims / 8, s.ropeDims / 8, 0])]] as [string, GGUFWriteValue][])),
    [k('rope.freq_base'), f32(10000000)],
    [k('attention.layer_norm_rms_epsilon'), f32(1e-6)],
    [k('ssm.conv_kernel'), u32(s.convKernel)],
    [k('ssm.inner_size'), u32(vDim)],
    [k('ssm.state_size'), u32(s.headDim)],
    [k('ssm.time_step_rank'), u32(s.nVHeads)],
    [k('ssm.group_count'), u32(s.nKHeads)],
    [k('full_attention_interval'), u32(o.qwen35MetadataInterval ?? 4)],
    ...(moe
      ? ([
          [k('expert_count'), u32(moe.experts)],
          [k('expert_used_count'), u32(moe.used)],
          [k('expert_feed_forward_length'), u32(moe.hidden)],
          [k('expert_shared_feed_forward_length'), u32(moe.shared)],
        ] as [string, GGUFWriteValue][])
      : []),
    ...tokenizerMeta,
  ];
  const tensors: GGUFWriteTensor[] = [];
  let index = 0;
  // shape: [rows, cols] row-major (GGUF dims are the reverse); 1-D vectors and the conv stay f32.
  const add = (name: string, shape: number[], std: number, mean = 0) => {
    const i = index++;
    const matrix = shape.length === 2 && !name.includes('ssm_conv1d');
    const half = matrix && type === 'f16';
    tensors.push({
      name,
      type: half ? 'F16' : 'F32',
      dims: [...shape].reverse(),
      data: () => {
        o.onProgress?.(`[${i + 1}] ${name}`);
        const v = fill(shape.reduce((a, b) => a * b, 1), prng(seed, 0x35000 + i), std, mean);
        return half ? f32ArrayToF16(v) : v;
      },
    });
  };
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('token_embd.weight', [V, dim], 1);
  for (let l = 0; l < nLayers; l++) {
    const p = `blk.${l}`;
    add(`${p}.attn_norm.weight`, [dim], 0.1, 1);
    if ((l + 1) % 4 !== 0) {
      if (next && o.qwen3nextFusedInput) {
        add(`${p}.ssm_in.weight`, [convC + vDim, dim], w(dim)); // per key head: q, k, its v heads, their z
      } else {
        add(`${p}.attn_qkv.weight`, [convC, dim], w(dim));
        add(`${p}.attn_gate.weight`, [vDim, dim], w(dim));
      }
      add(`${p}.ssm_conv1d.weight`, [convC, s.convKernel], 0.5);
      add(`${p}.ssm_dt.bias`, [s.nVHeads], 0.5);
      add(`${p}.ssm_a`, [s.nVHeads], 0.4, -1); // a = −exp(A_log) < 0
      if (next) {
        add(`${p}.ssm_ba.weight`, [2 * s.nVHeads, dim], w(dim)); // per key head: β rows, then α rows
      } else {
        add(`${p}.ssm_beta.weight`, [s.nVHeads, dim], w(dim));
        add(`${p}.ssm_alpha.weight`, [s.nVHeads, dim], w(dim));
      }
      add(`${p}.ssm_norm.weight`, [s.headDim], 0.1, 1);
      add(`${p}.ssm_out.weight`, [dim, vDim], w(vDim));
    } else {
      add(`${p}.attn_q.weight`, [2 * c.nHeads * D, dim], w(dim));
      add(`${p}.attn_k.weight`, [c.nKvHeads * D, dim], w(dim));
      add(`${p}.attn_v.weight`, [c.nKvHeads * D, dim], w(dim));
      add(`${p}.attn_output.weight`, [dim, c.nHeads * D], w(c.nHeads * D));
      add(`${p}.attn_q_norm.weight`, [D], 0.1, 1);
      add(`${p}.attn_k_norm.weight`, [D], 0.1, 1);
    }
    add(`${p}.post_attention_norm.weight`, [dim], 0.1, 1);
    if (moe) {
      add(`${p}.ffn_gate_inp.weight`, [moe.experts, dim], w(dim));
      add(`${p}.ffn_gate_exps.weight`, [moe.experts, moe.hidden, dim], w(dim));
      add(`${p}.ffn_up_exps.weight`, [moe.experts, moe.hidden, dim], w(dim));
      add(`${p}.ffn_down_exps.weight`, [moe.experts, dim, moe.hidden], w(moe.hidden));
      add(`${p}.ffn_gate_inp_shexp.weight`, [dim], w(dim));
      add(`${p}.ffn_gate_shexp.weight`, [moe.shared, dim], w(dim));
      add(`${p}.ffn_up_shexp.weight`, [moe.shared, dim], w(dim));
      add(`${p}.ffn_down_shexp.weight`, [dim, moe.shared], w(moe.shared));
    } else {
      add(`${p}.ffn_gate.weight`, [ffn, dim], w(dim));
      add(`${p}.ffn_up.weight`, [ffn, dim], w(dim));
      add(`${p}.ffn_down.weight`, [dim, ffn], w(ffn));
    }
  }
  add('output_norm.weight', [dim], 0.1, 1);
  add('output.weight', [V, dim], w(dim));
  const keep = ([name]: [string, unknown] | [string]) => !o.omit?.includes(name);
  writeGGUF(o.gguf!, { metadata: metadata.filter(keep), tensors: tensors.filter((t) => keep([t.name])) });
}

// ── gemma4: written straight to GGUF under llama.cpp's names ─────────────────────────────────

/**
 * gemma4's tiny shape (E2B in miniature): 6 layers, sliding / global as [S, S, G, S, S, G], the
 * last 3 sharing the K/V of layers 1 (sliding) and 2 (global); sliding heads of 16 with 2 KV
 * heads, global heads of 32 with 1 KV head (per-layer head_count_kv) of which a quarter rotates
 * (rope_freqs 1e30 for the rest); double-wide MLP in the shared layers; 8 per-layer input values.
 */
export const GEMMA4_TINY = {
  dim: 64, nLayers: 6, nHeads: 4, vocabSize: 512, contextLength: 256, ffn: 96, perLayer: 8,
  swa: [true, true, false, true, true, false], sharedKvLayers: 3,
  swaHeadDim: 16, swaKvHeads: 2, headDim: 32, kvHeads: 1, rotatedFraction: 0.25,
  window: 8, theta: 1000000, swaTheta: 10000, finalSoftcap: 15,
};

/**
 * gemma4 at the 110M bench size (for bench/e2e's families-110m): dim 768, 12 layers as
 * [S, S, S, S, S, G] × 2 (window 128), the last 6 KV-shared, sliding heads of 64 (4 KV heads), global heads of
 * 128 (2 KV heads), FFN 2048, 64 per-layer input values, vocabulary 32000.
 */
export const GEMMA4_110M: typeof GEMMA4_TINY = {
  dim: 768, nLayers: 12, nHeads: 12, vocabSize: 32000, contextLength: 1024, ffn: 2048, perLayer: 64,
  swa: [true, true, true, true, true, false, true, true, true, true, true, false], sharedKvLayers: 6,
  swaHeadDim: 64, swaKvHeads: 4, headDim: 128, kvHeads: 2, rotatedFraction: 0.25,
  window: 128, theta: 1000000, swaTheta: 10000, finalSoftcap: 30,
};

/** gemma4 variants llama.cpp also runs (for tests): see MakeOptions.gemma4. */
export interface Gemma4Variant {
  /** No per-layer inputs (embedding_length_per_layer_input = 0, as the 26B/31B models). */
  noPerLayerInputs?: boolean;
  /** Global layers without attn_v (HF attention_k_eq_v): their values are the keys' projection. */
  kEqV?: boolean;
  /** q, k, v in one attn_qkv tensor per layer (GGUF only). */
  fusedQkv?: boolean;
  /** The 26B-A4B's mixture of experts in every layer: this many experts (top-2, width GEMMA4_EXPERT_WIDTH) beside the dense MLP. */
  experts?: number;
  /** With experts: ffn_gate_exps + ffn_up_exps instead of the converter's fused ffn_gate_up_exps (GGUF only). */
  splitExperts?: boolean;
}

/** Width of a gemma4 random model's experts; each row uses 2. */
export const GEMMA4_EXPERT_WIDTH = 32;

/** One gemma4 tensor under its GGUF name ([rows, cols] row-major), with its HF name and data. */
interface Gemma4Tensor {
  name: string;
  hf: string | null;
  shape: number[];
  make: () => Float32Array;
}

/** GGUF blk.N.<part> → HF model.language_model.layers.N.<part> (llama.cpp's tensor_mapping, reversed). */
const GEMMA4_HF_PARTS: Record<string, string> = {
  'attn_norm.weight': 'input_layernorm.weight', 'attn_q.weight': 'self_attn.q_proj.weight', 'attn_k.weight': 'self_attn.k_proj.weight',
  'attn_v.weight': 'self_attn.v_proj.weight', 'attn_output.weight': 'self_attn.o_proj.weight', 'attn_q_norm.weight': 'self_attn.q_norm.weight',
  'attn_k_norm.weight': 'self_attn.k_norm.weight', 'post_attention_norm.weight': 'post_attention_layernorm.weight',
  'ffn_norm.weight': 'pre_feedforward_layernorm.weight', 'ffn_gate.weight': 'mlp.gate_proj.weight', 'ffn_up.weight': 'mlp.up_proj.weight',
  'ffn_down.weight': 'mlp.down_proj.weight', 'post_ffw_norm.weight': 'post_feedforward_layernorm.weight',
  'inp_gate.weight': 'per_layer_input_gate.weight', 'proj.weight': 'per_layer_projection.weight', 'post_norm.weight': 'post_per_layer_input_norm.weight',
  'layer_output_scale.weight': 'layer_scalar',
  'ffn_gate_inp.weight': 'router.proj.weight', 'ffn_gate_inp.scale': 'router.scale', 'ffn_down_exps.scale': 'router.per_expert_scale',
  'ffn_gate_up_exps.weight': 'experts.gate_up_proj', 'ffn_down_exps.weight': 'experts.down_proj',
  'pre_ffw_norm_2.weight': 'pre_feedforward_layernorm_2.weight', 'post_ffw_norm_1.weight': 'post_feedforward_layernorm_1.weight',
  'post_ffw_norm_2.weight': 'post_feedforward_layernorm_2.weight',
};
const GEMMA4_HF_FIXED: Record<string, string> = {
  'token_embd.weight': 'embed_tokens.weight', 'per_layer_token_embd.weight': 'embed_tokens_per_layer.weight',
  'per_layer_model_proj.weight': 'per_layer_model_projection.weight', 'per_layer_proj_norm.weight': 'per_layer_projection_norm.weight',
  'output_norm.weight': 'norm.weight',
};

function gemma4HfName(name: string): string | null {
  if (name === 'rope_freqs.weight') return null; // the converter derives it from rope_parameters
  if (/\.(attn_qkv|ffn_gate_exps|ffn_up_exps)\.weight$/.test(name)) return null; // GGUF only (writeGemma4 refuses --hf with them)
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const hf = m ? (GEMMA4_HF_PARTS[m[2]!] && `layers.${m[1]}.${GEMMA4_HF_PARTS[m[2]!]}`) : GEMMA4_HF_FIXED[name];
  if (!hf) throw new Error(`make-random-model: no Hugging Face name for ${name}`);
  return `model.language_model.${hf}`;
}

function gemma4Tensors(g: typeof GEMMA4_TINY, seed: number, v: Gemma4Variant): Gemma4Tensor[] {
  const { dim, nLayers: L, nHeads: H, vocabSize: V } = g;
  const P = v.noPerLayerInputs ? 0 : g.perLayer;
  const kvStart = L - g.sharedKvLayers;
  const ffn = Array.from({ length: L }, (_, i) => (i < kvStart ? g.ffn : 2 * g.ffn));
  const headDim = (i: number) => (g.swa[i] ? g.swaHeadDim : g.headDim);
  const kvHeads = (i: number) => (g.swa[i] ? g.swaKvHeads : g.kvHeads);
  const tensors: Gemma4Tensor[] = [];
  let index = 0;
  const add = (name: string, shape: number[], std: number, mean = 0, data?: Float32Array) => {
    const i = index++;
    tensors.push({ name, hf: gemma4HfName(name), shape, make: () => data ?? fill(shape.reduce((a, b) => a * b, 1), prng(seed, 0x4000 + i), std, mean) });
  };
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('token_embd.weight', [V, dim], 0.05);
  if (P > 0) {
    add('per_layer_token_embd.weight', [V, L * P], 0.3);
    add('per_layer_model_proj.weight', [L * P, dim], w(dim));
    add('per_layer_proj_norm.weight', [P], 0.1, 1);
  }
  const pairs = g.headDim / 2;
  const rotated = Math.round(pairs * g.rotatedFraction);
  add('rope_freqs.weight', [pairs], 0, 0, Float32Array.from({ length: pairs }, (_, i) => (i < rotated ? 1 : 1e30)));
  for (let l = 0; l < L; l++) {
    const p = `blk.${l}`;
    const D = headDim(l);
    const kv = kvHeads(l) * D;
    const hasV = !(v.kEqV && !g.swa[l]);
    add(`${p}.attn_norm.weight`, [dim], 0.1, 1);
    if (v.fusedQkv) {
      add(`${p}.attn_qkv.weight`, [H * D + 2 * kv, dim], w(dim));
    } else {
      add(`${p}.attn_q.weight`, [H * D, dim], w(dim));
      if (l < kvStart) {
        add(`${p}.attn_k.weight`, [kv, dim], w(dim));
        if (hasV) add(`${p}.attn_v.weight`, [kv, dim], w(dim));
      }
    }
    if (l < kvStart) add(`${p}.attn_k_norm.weight`, [D], 0.1, 1);
    add(`${p}.attn_q_norm.weight`, [D], 0.1, 1);
    add(`${p}.attn_output.weight`, [dim, H * D], w(H * D));
    add(`${p}.post_attention_norm.weight`, [dim], 0.1, 1);
    add(`${p}.ffn_norm.weight`, [dim], 0.1, 1);
    add(`${p}.ffn_gate.weight`, [ffn[l]!, dim], w(dim));
    add(`${p}.ffn_up.weight`, [ffn[l]!, dim], w(dim));
    add(`${p}.ffn_down.weight`, [dim, ffn[l]!], w(ffn[l]!));
    add(`${p}.post_ffw_norm.weight`, [dim], 0.1, 1);
    const E = v.experts ?? 0;
    if (E > 0) {
      const F = GEMMA4_EXPERT_WIDTH;
      // router weights large enough that each row's top-2 are far from ties
      add(`${p}.ffn_gate_inp.weight`, [E, dim], 4);
      add(`${p}.ffn_gate_inp.scale`, [dim], 0.1, 1);
      if (v.splitExperts) {
        add(`${p}.ffn_gate_exps.weight`, [E, F, dim], w(dim));
        add(`${p}.ffn_up_exps.weight`, [E, F, dim], w(dim));
      } else {
        add(`${p}.ffn_gate_up_exps.weight`, [E, 2 * F, dim], w(dim));
      }
      add(`${p}.ffn_down_exps.weight`, [E, dim, F], w(F));
      add(`${p}.ffn_down_exps.scale`, [E], 0.2, 1);
      add(`${p}.pre_ffw_norm_2.weight`, [dim], 0.1, 1);
      add(`${p}.post_ffw_norm_1.weight`, [dim], 0.1, 1);
      add(`${p}.post_ffw_norm_2.weight`, [dim], 0.1, 1);
    }
    if (P > 0) {
      add(`${p}.inp_gate.weight`, [P, dim], w(dim));
      add(`${p}.proj.weight`, [dim, P], w(P));
      add(`${p}.post_norm.weight`, [dim], 0.1, 1);
    }
    add(`${p}.layer_output_scale.weight`, [1], 0.25, 1);
  }
  add('output_norm.weight', [dim], 0.1, 1);
  return tensors;
}

/** The keys Gemma4Model.set_gguf_parameters (llama.cpp's converter) writes for a gemma4 shape. */
function gemma4Metadata(g: typeof GEMMA4_TINY, o: MakeOptions, seed: number, v: Gemma4Variant): [string, GGUFWriteValue][] {
  const L = g.nLayers;
  const kvStart = L - g.sharedKvLayers;
  const k = (x: string) => `gemma4.${x}`;
  return [
    ['general.architecture', 'gemma4'],
    ['general.name', `random-gemma4-${o.size}-seed${seed}`],
    [k('context_length'), u32(g.contextLength)],
    [k('embedding_length'), u32(g.dim)],
    [k('block_count'), u32(L)],
    [k('feed_forward_length'), Int32Array.from({ length: L }, (_, i) => (i < kvStart ? g.ffn : 2 * g.ffn))],
    [k('attention.head_count'), u32(g.nHeads)],
    [k('attention.head_count_kv'), Int32Array.from({ length: L }, (_, i) => (g.swa[i] ? g.swaKvHeads : g.kvHeads))],
    [k('rope.freq_base'), f32(g.theta)],
    [k('attention.layer_norm_rms_epsilon'), f32(1e-6)],
    [k('attention.key_length'), u32(g.headDim)],
    [k('attention.value_length'), u32(g.headDim)],
    [k('final_logit_softcapping'), f32(g.finalSoftcap)],
    [k('attention.sliding_window'), u32(g.window)],
    [k('attention.shared_kv_layers'), u32(g.sharedKvLayers)],
    [k('embedding_length_per_layer_input'), u32(v.noPerLayerInputs ? 0 : g.perLayer)],
    [k('attention.sliding_window_pattern'), [...g.swa]],
    [k('attention.key_length_swa'), u32(g.swaHeadDim)],
    [k('attention.value_length_swa'), u32(g.swaHeadDim)],
    [k('rope.dimension_count'), u32(g.headDim)],
    [k('rope.dimension_count_swa'), u32(g.swaHeadDim)],
    [k('rope.freq_base_swa'), f32(g.swaTheta)],
    ...(v.experts ? [[k('expert_count'), u32(v.experts)], [k('expert_used_count'), u32(2)], [k('expert_feed_forward_length'), u32(GEMMA4_EXPERT_WIDTH)]] as [string, GGUFWriteValue][] : []),
    ...randomTokenizerMeta(g.vocabSize, seed),
  ];
}

/** config.json as the Gemma 4 checkpoints publish it: the text model under text_config. */
function gemma4HfConfig(g: typeof GEMMA4_TINY, v: Gemma4Variant): Record<string, unknown> {
  const eos = g.vocabSize - 1; // the random BPE vocabulary's <|endoftext|>, as writeHF's configs
  return {
    architectures: ['Gemma4ForConditionalGeneration'],
    model_type: 'gemma4',
    bos_token_id: eos,
    eos_token_id: eos,
    tie_word_embeddings: true,
    text_config: {
      model_type: 'gemma4_text',
      hidden_size: g.dim,
      num_hidden_layers: g.nLayers,
      num_attention_heads: g.nHeads,
      num_key_value_heads: g.swaKvHeads,
      num_global_key_value_heads: g.kvHeads,
      head_dim: g.swaHeadDim,
      global_head_dim: g.headDim,
      intermediate_size: g.ffn,
      use_double_wide_mlp: true,
      num_kv_shared_layers: g.sharedKvLayers,
      hidden_size_per_layer_input: v.noPerLayerInputs ? 0 : g.perLayer,
      vocab_size: g.vocabSize,
      vocab_size_per_layer_input: g.vocabSize,
      layer_types: g.swa.map((s) => (s ? 'sliding_attention' : 'full_attention')),
      sliding_window: g.window,
      max_position_embeddings: g.contextLength,
      rope_parameters: {
        full_attention: { rope_type: 'proportional', partial_rotary_factor: g.rotatedFraction, rope_theta: g.theta },
        sliding_attention: { rope_type: 'default', rope_theta: g.swaTheta },
      },
      attention_k_eq_v: !!v.kEqV,
      enable_moe_block: !!v.experts,
      ...(v.experts ? { num_experts: v.experts, top_k_experts: 2, moe_intermediate_size: GEMMA4_EXPERT_WIDTH } : {}),
      final_logit_softcapping: g.finalSoftcap,
      rms_norm_eps: 1e-6,
      hidden_activation: 'gelu_pytorch_tanh',
      tie_word_embeddings: true,
      torch_dtype: 'float32',
    },
    vision_config: null,
    audio_config: null,
  };
}

function writeGemma4(o: MakeOptions, seed: number, type: WeightType): void {
  if (o.size !== 'tiny' && o.size !== '110m') throw new Error('--arch gemma4: --size tiny or 110m');
  const g = o.size === '110m' ? GEMMA4_110M : GEMMA4_TINY;
  if (type === 'q8_0') throw new Error('--arch gemma4: --type f32 or f16');
  // --experts N: the 26B-A4B's mixture of experts
  const v: Gemma4Variant = { ...o.gemma4, ...(o.experts !== undefined ? { experts: o.experts } : {}) };
  if (v.experts !== undefined && (!Number.isInteger(v.experts) || v.experts < 2)) throw new Error(`--experts needs an integer ≥ 2, got ${v.experts}`);
  if (o.hf && (type !== 'f32' || v.fusedQkv || v.splitExperts)) throw new Error('--arch gemma4 --hf: f32, separate q/k/v and fused expert gate/up only (as the checkpoints store them)');
  const tensors = gemma4Tensors(g, seed, v);
  if (o.gguf) {
    // vectors stay f32 (as llama.cpp's converter keeps them)
    writeGGUF(o.gguf, {
      metadata: gemma4Metadata(g, o, seed, v),
      tensors: tensors.map((t, i): GGUFWriteTensor => {
        const half = t.shape.length >= 2 && type === 'f16';
        return {
          name: t.name,
          type: half ? 'F16' : 'F32',
          dims: [...t.shape].reverse(),
          data: () => {
            o.onProgress?.(`[${i + 1}] ${t.name}`);
            const x = t.make();
            return half ? f32ArrayToF16(x) : x;
          },
        };
      }),
    });
  }
  if (o.hf) {
    mkdirSync(o.hf, { recursive: true });
    writeFileSync(join(o.hf, 'config.json'), JSON.stringify(gemma4HfConfig(g, v), null, 2));
    const { tokens, merges } = randomBPE(g.vocabSize, seed);
    writeFileSync(join(o.hf, 'tokenizer.json'), tokenizerJson(tokens, merges));
    const hf = tensors.filter((t) => t.hf !== null);
    writeSafetensors(join(o.hf, 'model.safetensors'), hf.map((t) => ({ name: t.hf!, dtype: 'F32', shape: t.shape, data: t.make })), { format: 'pt' });
  }
}

export function makeRandomModel(o: MakeOptions): void {
  if (isHybrid(o.arch)) {
    if (!o.gguf) throw new Error('nothing to write: give --gguf FILE');
    return writeQwen35(o, o.seed ?? 1, o.type ?? 'f32');
  }
  if (o.arch === 'gemma4') {
    if (!o.gguf && !o.hf) throw new Error('nothing to write: give --gguf FILE and/or --hf DIR');
    return writeGemma4(o, o.seed ?? 1, o.type ?? 'f32');
  }
  const c = CONFIGS[o.arch]?.[o.size];
  if (!c) throw new Error(`unknown --arch/--size ${o.arch}/${o.size}`);
  const type = o.type ?? 'f32';
  const seed = o.seed ?? 1;
  if (!o.gguf && !o.hf) throw new Error('nothing to write: give --gguf FILE and/or --hf DIR');
  if (o.ropeScaling && o.arch !== 'llama') throw new Error(`--rope-scaling is for --arch llama, not ${o.arch}`);
  if (o.slidingWindow !== undefined && o.arch !== 'mistral3') throw new Error(`a sliding window is written for --arch mistral3 only, not ${o.arch}`);
  if (o.experts !== undefined && (o.arch !== 'llama' || !Number.isInteger(o.experts) || o.experts < 2)) throw new Error(`--experts is for --arch llama and needs an integer ≥ 2, got ${o.experts} (${o.arch})`);
  const hfDir = o.hf ?? mkdtempSync(join(tmpdir(), 'tl-random-'));
  try {
    writeHF(hfDir, o.arch, c, seed, type === 'f16', o.onProgress, o.ropeScaling, o.experts ?? 0, o.slidingWindow);
    if (o.gguf) {
      using model = openModelFile(hfDir);
      // llama.cpp gives a vocabulary special treatment when general.name contains 'phi3' (it looks up
      // SentencePiece's <s>, </s>, <unk>, which our random BPE vocabulary lacks)
      const name = `random-${o.arch === 'phi3' ? 'phi-three' : o.arch}-${o.size}-seed${seed}`;
      convertModel(model, o.gguf, { type, name, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
    }
  } finally {
    if (!o.hf) rmSync(hfDir, { recursive: true, force: true });
  }
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: 'string', default: 'llama' },
      size: { type: 'string', default: 'tiny' },
      type: { type: 'string', default: 'f32' },
      seed: { type: 'string', default: '1' },
      gguf: { type: 'string' },
      hf: { type: 'string' },
      'rope-scaling': { type: 'string' },
      experts: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      pooling: { type: 'string', default: 'mean' },
    },
  });
  if (values.arch === 't5' || values.arch === 'flan-t5') {
    // encoder-decoders: scripts/make-random-t5.ts
    if ((!values.gguf && !values.hf) || !['tiny', 'small', 'base'].includes(values.size) || !['f32', 'f16'].includes(values.type)) {
      console.error('usage: make-random-model --arch t5|flan-t5 --size tiny|small|base [--type f32|f16] [--seed N] [--gguf FILE] [--hf DIR]');
      return 2;
    }
    makeRandomT5({ arch: values.arch, size: values.size as T5Size, type: values.type as 'f32' | 'f16', seed: Number(values.seed), ...(values.gguf ? { gguf: values.gguf } : {}), ...(values.hf ? { hf: values.hf } : {}) });
    return 0;
  }
  if (values.arch === 'bert' || values.arch === 'nomic-bert' || values.arch === 'xlm-roberta') {
    // encoders (embedding models): scripts/make-random-encoder.ts
    if (!values.gguf || !['tiny', '33m', '110m'].includes(values.size) || !['mean', 'cls', 'last', 'rank', 'none'].includes(values.pooling) || !['f32', 'f16'].includes(values.type)) {
      console.error('usage: make-random-model --arch bert|nomic-bert|xlm-roberta --size tiny|33m|110m [--pooling mean|cls|last|rank|none] [--type f32|f16] [--seed N] --gguf FILE');
      return 2;
    }
    makeRandomEncoder({ arch: values.arch, size: values.size as EncoderSize, pooling: values.pooling as EncoderPooling, type: values.type as 'f32' | 'f16', seed: Number(values.seed), gguf: values.gguf });
    return 0;
  }
  const arch = values.arch as RandomArch;
  const size = values.size as Size;
  const type = values.type as WeightType;
  const ropeScaling = values['rope-scaling'] as RopeScalingKind | undefined;
  if (!([...ARCHS, ...HYBRID_ARCHS, 'gemma4'] as string[]).includes(arch) || !['tiny', '110m', '1b', '0.8b'].includes(size) || !['f32', 'f16', 'q8_0'].includes(type) || (ropeScaling && !['llama3', 'linear', 'yarn'].includes(ropeScaling))) {
    console.error(`usage: make-random-model --arch ${[...ARCHS, ...HYBRID_ARCHS, 'gemma4'].join('|')} --size tiny|110m|1b|0.8b [--type f32|f16|q8_0] [--rope-scaling llama3|linear|yarn] [--experts N] [--seed N] [--gguf FILE] [--hf DIR]`);
    return 2;
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed) || seed < 0) {
    console.error(`--seed must be a non-negative integer, got '${values.seed}'`);
    return 2;
  }
  makeRandomModel({
    arch, size, type, seed,
    ...(values.gguf ? { gguf: values.gguf } : {}),
    ...(values.hf ? { hf: values.hf } : {}),
    ...(ropeScaling ? { ropeScaling } : {}),
    ...(values.experts !== undefined ? { experts: Number(values.experts) } : {}),
    ...(values.quiet ? {} : { onProgress: (m: string) => process.stderr.write(`${m}\n`) }),
  });
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error(`make-random-model: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
