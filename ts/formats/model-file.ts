/**
 * One view of a model, whatever file it came from (GGUF, a Hugging Face safetensors directory, a
 * llama2.c .bin): the architecture, normalized hyperparameters, and named tensors the models
 * consume as backend `Weights` views into the memory-mapped file.
 *
 * Canonical tensor names are GGUF's (llama.cpp's), whatever the source:
 *   token_embd.weight [vocab, dim]            position_embd.weight [ctx, dim] (GPT-2)
 *   blk.N.attn_norm.{weight,bias}             blk.N.ffn_norm.{weight,bias}
 *   blk.N.attn_q / attn_k / attn_v.{weight,bias} (Llama family; bias for Qwen2-style)
 *   blk.N.attn_qkv.{weight,bias} [3·dim, dim] (GPT-2, fused q|k|v rows)
 *   blk.N.attn_output.{weight,bias}
 *   blk.N.ffn_gate / ffn_up / ffn_down.{weight,bias}
 *   output_norm.{weight,bias}                 output.weight [vocab, dim] (absent when tied)
 * Shapes are row-major, outermost first: every Linear weight is [out, in] (HF GPT-2's Conv1D
 * [in, out] weights are transposed on access).
 *
 * RoPE layout of attn_q/attn_k rows (`config.ropeLayout`): 'interleaved' (pairs 2i, 2i+1) for GGUF
 * `llama` and llama2.c; 'half' (pairs i, i + D/2, "rotate_half") for HF Llama checkpoints and for
 * GGUF architectures llama.cpp runs with NEOX RoPE (qwen2, qwen3, phi3, gemma…). The backend's
 * `rope` takes either; `convert` permutes HF Llama Q/K to interleaved as llama.cpp's converter does.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { RopeLayout, Weights } from '../backend/types.js';
import { FormatError } from './byte-source.js';
import { checkModelConfig } from './config-check.js';
import { metaNumber, metaString, readGGUF, type GGUFFile } from './gguf.js';
import { readLlama2c, type Llama2cConfig } from './llama2c.js';
import { openFileBytes, type FileBytes } from './mapped-file.js';
import { readSafetensors, readSafetensorsIndex, type SafetensorsTensor } from './safetensors.js';
import { tensorF32, tensorWeights, type TensorEntry } from './tensor-data.js';

export type ModelFormat = 'gguf' | 'safetensors' | 'llama2c';
/** The model code that runs an architecture, or null when tensorloom has none. */
export type ModelFamily = 'llama' | 'gpt2';

export interface ModelConfig {
  /** As the file names it: GGUF general.architecture, HF architectures[0], or 'llama' for llama2.c. */
  architecture: string;
  family: ModelFamily | null;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  ffnDim: number;
  vocabSize: number;
  contextLength: number;
  norm: 'rmsnorm' | 'layernorm';
  normEps: number;
  /** Llama: SwiGLU (silu(gate)·up); GPT-2: GELU (tanh approximation). */
  mlp: 'swiglu' | 'gelu';
  /** Learned absolute positions (GPT-2) instead of RoPE. */
  positions: 'rope' | 'learned';
  ropeTheta: number;
  /** Rotated dimensions per head (partial rotary when < headDim). */
  ropeDims: number;
  ropeLayout: RopeLayout;
  /** The LM head reuses token_embd.weight (no output.weight tensor). */
  tiedEmbeddings: boolean;
}

export type TokenizerSource =
  /** Embedded in the GGUF metadata (tokenizer.ggml.*): `model` is tokenizer.ggml.model. */
  | { kind: 'gguf'; model: string; vocabSize: number; gguf: GGUFFile }
  /** A Hugging Face tokenizer.json next to config.json. */
  | { kind: 'hf'; path: string }
  /** A llama2.c tokenizer.bin. */
  | { kind: 'llama2c'; path: string }
  | { kind: 'none' };

export interface ModelFile {
  readonly format: ModelFormat;
  readonly path: string;
  readonly config: ModelConfig;
  /** Canonical name → entry, in file order. */
  readonly tensors: ReadonlyMap<string, TensorEntry>;
  readonly tokenizer: TokenizerSource;
  /** The raw GGUF header (format 'gguf'), HF config.json (format 'safetensors'), llama2.c header. */
  readonly gguf?: GGUFFile;
  readonly hfConfig?: Readonly<Record<string, unknown>>;
  readonly llama2c?: Llama2cConfig;
  /** True when the weights are memory-mapped (else read into memory once). */
  readonly mapped: boolean;
  has(name: string): boolean;
  /** A weight matrix as backend Weights (a view into the file when possible). */
  weights(name: string): Weights;
  /** A vector (norm weight, bias) as f32 (a view for F32 tensors). */
  vector(name: string): Float32Array;
  /** Bytes of tensor data (sum over tensors). */
  tensorBytes(): number;
  /** Bytes of the model files currently in RAM (mapped pages present, or the whole read size). */
  residentBytes(): number;
  /**
   * Bytes handed out as copies instead of views so far (unaligned tensors, Q4_0 → Q8_0, transposed
   * Conv1D weights, f16 vectors widened to f32). Each tensor is counted once.
   */
  copiedBytes(): number;
  /** Releases the mapping; views obtained earlier become empty. */
  close(): void;
  [Symbol.dispose](): void;
}

export interface OpenModelOptions {
  /** A tokenizer file to use instead of the one found with the model. */
  tokenizer?: string;
  /** 'read' forces fs reads instead of mmap (see ./mapped-file.ts). */
  io?: 'auto' | 'read' | 'mmap';
  /** Called as files are opened (for progress on stderr in the CLI). */
  onProgress?: (message: string) => void;
}

/** Opens a model: a .gguf file, a llama2.c .bin, or a Hugging Face directory (config.json + *.safetensors). */
export function openModelFile(path: string, options: OpenModelOptions = {}): ModelFile {
  if (!existsSync(path)) throw new FormatError(`model '${path}' does not exist`);
  if (statSync(path).isDirectory()) return openHF(path, options);
  const head = readHead(path);
  if (head === 'GGUF' || path.endsWith('.gguf')) return openGGUF(path, options); // a bad magic gets readGGUF's error
  if (path.endsWith('.safetensors')) return openHF(dirname(path), options);
  if (path.endsWith('.bin')) return openLlama2c(path, options);
  throw new FormatError(`'${path}': unknown model format (expected a .gguf file, a llama2.c .bin, or a Hugging Face directory)`);
}

/** The first 4 bytes as latin1 text ('GGUF' for GGUF files). */
function readHead(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    const n = readSync(fd, b, 0, 4, 0);
    return b.toString('latin1', 0, n);
  } finally {
    closeSync(fd);
  }
}

// ── the shared implementation ───────────────────────────────────────────────────────────────────

interface Parts {
  format: ModelFormat;
  path: string;
  config: ModelConfig;
  entries: TensorEntry[];
  files: FileBytes[];
  tokenizer: TokenizerSource;
  gguf?: GGUFFile;
  hfConfig?: Record<string, unknown>;
  llama2c?: Llama2cConfig;
}

function assemble(p: Parts): ModelFile {
  const tensors = new Map<string, TensorEntry>();
  for (const e of p.entries) {
    if (tensors.has(e.name)) throw new FormatError(`${p.path}: two tensors map to '${e.name}'`);
    tensors.set(e.name, e);
  }
  const get = (name: string): TensorEntry => {
    const e = tensors.get(name);
    if (!e) throw new FormatError(`${p.path}: tensor '${name}' is missing`);
    return e;
  };
  let closed = false;
  const copied = new Map<string, number>();
  const track = <T extends ArrayBufferView>(e: TensorEntry, data: T): T => {
    if (data.buffer !== p.files[e.file]!.bytes.buffer) copied.set(e.name, Math.max(copied.get(e.name) ?? 0, data.byteLength));
    return data;
  };
  const bytesOf = (e: TensorEntry) => {
    if (closed) throw new Error(`${p.path}: model file is closed`);
    return p.files[e.file]!.bytes;
  };
  const close = () => {
    if (closed) return;
    closed = true;
    for (const f of p.files) f.close();
  };
  return {
    format: p.format,
    path: p.path,
    config: p.config,
    tensors,
    tokenizer: p.tokenizer,
    ...(p.gguf ? { gguf: p.gguf } : {}),
    ...(p.hfConfig ? { hfConfig: p.hfConfig } : {}),
    ...(p.llama2c ? { llama2c: p.llama2c } : {}),
    mapped: p.files.every((f) => f.mapped),
    has: (name) => tensors.has(name),
    weights: (name) => {
      const e = get(name);
      const w = tensorWeights(bytesOf(e), e);
      track(e, w.data);
      return w;
    },
    vector: (name) => {
      const e = get(name);
      return track(e, tensorF32(bytesOf(e), e));
    },
    copiedBytes: () => [...copied.values()].reduce((a, b) => a + b, 0),
    tensorBytes: () => p.entries.reduce((s, e) => s + e.byteLength, 0),
    residentBytes: () => p.files.reduce((s, f) => s + f.residentBytes(), 0),
    close,
    [Symbol.dispose]: close,
  };
}

function positive(v: number | undefined, what: string, where: string): number {
  if (v === undefined || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError(`${where}: ${what} is ${v === undefined ? 'missing' : `invalid (${v})`}`);
  }
  return v;
}

function familyOf(architecture: string): ModelFamily | null {
  const a = architecture.toLowerCase();
  if (a === 'gpt2' || a === 'gpt2lmheadmodel') return 'gpt2';
  if (/^(llama|mistral|qwen2|qwen3)/.test(a)) return 'llama';
  return null;
}

/** Architectures llama.cpp runs with NEOX-style ("half") RoPE, whose GGUF Q/K stay unpermuted. */
const HALF_ROPE_GGUF = new Set(['qwen2', 'qwen2moe', 'qwen3', 'qwen3moe', 'phi2', 'phi3', 'gemma', 'gemma2', 'gemma3', 'stablelm', 'gptneox', 'falcon', 'starcoder2', 'olmo2']);

// ── GGUF ────────────────────────────────────────────────────────────────────────────────────────

function openGGUF(path: string, options: OpenModelOptions): ModelFile {
  options.onProgress?.(`reading GGUF header of ${path}`);
  const g = readGGUF(path);
  const arch = metaString(g, 'general.architecture');
  if (!arch) throw new FormatError(`${path}: general.architecture is missing`);
  const k = (s: string) => `${arch}.${s}`;
  const where = `${path} (${arch})`;
  const num = (key: string) => metaNumber(g, key);
  const family = familyOf(arch);
  const dim = positive(num(k('embedding_length')), k('embedding_length'), where);
  const nHeads = positive(num(k('attention.head_count')), k('attention.head_count'), where);
  const nKvHeads = num(k('attention.head_count_kv')) ?? nHeads;
  const headDim = num(k('attention.key_length')) ?? dim / nHeads;
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const embd = g.tensors.find((t) => t.name === 'token_embd.weight');
  const vocabSize = num(k('vocab_size')) ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? embd?.dims[1];
  const isGpt2 = family === 'gpt2';
  const config: ModelConfig = {
    architecture: arch,
    family,
    dim,
    nLayers: positive(num(k('block_count')), k('block_count'), where),
    nHeads,
    nKvHeads: positive(nKvHeads, k('attention.head_count_kv'), where),
    headDim: positive(headDim, 'head dimension', where),
    ffnDim: positive(num(k('feed_forward_length')), k('feed_forward_length'), where),
    vocabSize: positive(vocabSize, 'vocab size', where),
    contextLength: positive(num(k('context_length')), k('context_length'), where),
    norm: g.metadata.has(k('attention.layer_norm_rms_epsilon')) ? 'rmsnorm' : 'layernorm',
    normEps: num(k('attention.layer_norm_rms_epsilon')) ?? num(k('attention.layer_norm_epsilon')) ?? 1e-5,
    mlp: isGpt2 ? 'gelu' : 'swiglu',
    positions: isGpt2 ? 'learned' : 'rope',
    ropeTheta: num(k('rope.freq_base')) ?? 10000,
    ropeDims: num(k('rope.dimension_count')) ?? headDim,
    ropeLayout: HALF_ROPE_GGUF.has(arch) ? 'half' : 'interleaved',
    tiedEmbeddings: !g.tensors.some((t) => t.name === 'output.weight'),
  };
  const epsKey = config.norm === 'rmsnorm' ? 'attention.layer_norm_rms_epsilon' : 'attention.layer_norm_epsilon';
  checkModelConfig(config, path, {
    dim: k('embedding_length'), nLayers: k('block_count'), nHeads: k('attention.head_count'), nKvHeads: k('attention.head_count_kv'),
    headDim: g.metadata.has(k('attention.key_length')) ? k('attention.key_length') : `${k('embedding_length')} / ${k('attention.head_count')}`, ffnDim: k('feed_forward_length'), contextLength: k('context_length'), normEps: k(epsKey),
    ropeTheta: k('rope.freq_base'), ropeDims: g.metadata.has(k('rope.dimension_count')) ? k('rope.dimension_count') : 'the head dimension',
  });
  const entries: TensorEntry[] = g.tensors.map((t) => ({
    name: t.name, type: t.type, shape: [...t.dims].reverse(), offset: t.offset, byteLength: t.byteLength, file: 0,
  }));
  let tokenizer: TokenizerSource = { kind: 'none' };
  const tokModel = metaString(g, 'tokenizer.ggml.model');
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else if (tokModel && Array.isArray(tokens)) tokenizer = { kind: 'gguf', model: tokModel, vocabSize: tokens.length, gguf: g };
  options.onProgress?.(`mapping ${g.tensors.length} tensors (${(g.fileSize / 1e6).toFixed(1)} MB)`);
  const files = [openFileBytes(path, { mode: options.io ?? 'auto' })];
  return assemble({ format: 'gguf', path, config, entries, files, tokenizer, gguf: g });
}

function tokenizerFromPath(path: string): TokenizerSource {
  if (!existsSync(path)) throw new FormatError(`tokenizer '${path}' does not exist`);
  if (path.endsWith('.json')) return { kind: 'hf', path };
  if (path.endsWith('.gguf')) {
    const g = readGGUF(path);
    const tokens = g.metadata.get('tokenizer.ggml.tokens');
    const model = metaString(g, 'tokenizer.ggml.model');
    if (!model || !Array.isArray(tokens)) throw new FormatError(`${path}: no tokenizer.ggml.model / tokens metadata`);
    return { kind: 'gguf', model, vocabSize: tokens.length, gguf: g };
  }
  return { kind: 'llama2c', path };
}

// ── llama2.c ────────────────────────────────────────────────────────────────────────────────────

function openLlama2c(path: string, options: OpenModelOptions): ModelFile {
  const m = readLlama2c(path);
  const c = m.config;
  const config: ModelConfig = {
    architecture: 'llama',
    family: 'llama',
    dim: c.dim,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    headDim: c.dim / c.nHeads,
    ffnDim: c.hiddenDim,
    vocabSize: c.vocabSize,
    contextLength: c.seqLen,
    norm: 'rmsnorm',
    normEps: 1e-5, // run.c's rmsnorm
    mlp: 'swiglu',
    positions: 'rope',
    ropeTheta: 10000,
    ropeDims: c.dim / c.nHeads,
    ropeLayout: 'interleaved',
    tiedEmbeddings: c.sharedClassifier,
  };
  checkModelConfig(config, path, { dim: 'dim', nLayers: 'n_layers', nHeads: 'n_heads', nKvHeads: 'n_kv_heads', headDim: 'dim / n_heads', ffnDim: 'hidden_dim', vocabSize: 'vocab_size', contextLength: 'seq_len', ropeDims: 'dim / n_heads' });
  let tokenizer: TokenizerSource = { kind: 'none' };
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else {
    const found = findLlama2cTokenizer(path, c.vocabSize);
    if (found) tokenizer = { kind: 'llama2c', path: found };
  }
  options.onProgress?.(`mapping ${m.tensors.length} tensors (${(m.fileSize / 1e6).toFixed(1)} MB)`);
  const files = [openFileBytes(path, { mode: options.io ?? 'auto' })];
  return assemble({ format: 'llama2c', path, config, entries: m.tensors, files, tokenizer, llama2c: c });
}

/** tokenizer.bin next to the model, else tok<vocab>.bin (llama2.c's naming for custom vocabularies). */
export function findLlama2cTokenizer(modelPath: string, vocabSize: number): string | null {
  const dir = dirname(modelPath);
  for (const name of ['tokenizer.bin', `tok${vocabSize}.bin`]) {
    const p = join(dir, name);
    if (existsSync(p) && p !== modelPath) return p;
  }
  return null;
}

// ── Hugging Face directory ─────────────────────────────────────────────────────────────────────

function readJson(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FormatError(`${path}: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}

function hfNumber(cfg: Record<string, unknown>, keys: string[]): number | undefined {
  for (const key of keys) {
    const v = cfg[key];
    if (typeof v === 'number') return v;
  }
  return undefined;
}

/** HF tensor name → canonical name (+ whether it is a Conv1D weight to transpose), or null to skip. */
function hfName(family: ModelFamily, name: string): { name: string; transposed: boolean } | null {
  if (family === 'llama') {
    const fixed: Record<string, string> = {
      'model.embed_tokens.weight': 'token_embd.weight',
      'model.norm.weight': 'output_norm.weight',
      'lm_head.weight': 'output.weight',
    };
    if (fixed[name]) return { name: fixed[name]!, transposed: false };
    const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(name);
    if (!m) return null;
    const part: Record<string, string> = {
      input_layernorm: 'attn_norm', post_attention_layernorm: 'ffn_norm',
      'self_attn.q_proj': 'attn_q', 'self_attn.k_proj': 'attn_k', 'self_attn.v_proj': 'attn_v', 'self_attn.o_proj': 'attn_output',
      'mlp.gate_proj': 'ffn_gate', 'mlp.up_proj': 'ffn_up', 'mlp.down_proj': 'ffn_down',
    };
    const p = part[m[2]!];
    if (!p) return null; // e.g. rotary_emb.inv_freq buffers
    return { name: `blk.${m[1]}.${p}.${m[3]}`, transposed: false };
  }
  const n = name.replace(/^transformer\./, '');
  const fixed: Record<string, string> = {
    'wte.weight': 'token_embd.weight', 'wpe.weight': 'position_embd.weight',
    'ln_f.weight': 'output_norm.weight', 'ln_f.bias': 'output_norm.bias', 'lm_head.weight': 'output.weight',
  };
  if (fixed[n]) return { name: fixed[n]!, transposed: false };
  const m = /^h\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
  if (!m) return null;
  const part: Record<string, string> = {
    ln_1: 'attn_norm', ln_2: 'ffn_norm', 'attn.c_attn': 'attn_qkv', 'attn.c_proj': 'attn_output', 'mlp.c_fc': 'ffn_up', 'mlp.c_proj': 'ffn_down',
  };
  const p = part[m[2]!];
  if (!p) return null; // attn.bias / attn.masked_bias buffers
  const isConv1D = m[3] === 'weight' && m[2]!.includes('.');
  return { name: `blk.${m[1]}.${p}.${m[3]}`, transposed: isConv1D };
}

function openHF(dir: string, options: OpenModelOptions): ModelFile {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new FormatError(`${dir}: no config.json (not a Hugging Face model directory)`);
  const cfg = readJson(cfgPath);
  const archs = cfg.architectures;
  const arch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : typeof cfg.model_type === 'string' ? cfg.model_type : '';
  const modelType = typeof cfg.model_type === 'string' ? cfg.model_type : '';
  const family = familyOf(modelType) ?? familyOf(arch.replace(/ForCausalLM$/, ''));
  if (!family) throw new FormatError(`${cfgPath}: unsupported architecture '${arch || modelType}' (supported: Llama family, GPT-2)`);

  // Which files hold the weights.
  const indexPath = join(dir, 'model.safetensors.index.json');
  let shardNames: string[];
  let shardOf: Map<string, string> | null = null;
  if (existsSync(indexPath)) {
    shardOf = readSafetensorsIndex(indexPath);
    shardNames = [...new Set(shardOf.values())].sort();
  } else if (existsSync(join(dir, 'model.safetensors'))) {
    shardNames = ['model.safetensors'];
  } else {
    const found = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
    if (found.length === 0) throw new FormatError(`${dir}: no model.safetensors (or index) found; PyTorch .bin checkpoints are not supported`);
    shardNames = found;
  }

  const entries: TensorEntry[] = [];
  const files: FileBytes[] = [];
  const stored = new Set<string>();
  try {
    shardNames.forEach((shard, fileIndex) => {
      const p = join(dir, shard);
      options.onProgress?.(`reading ${basename(p)} (${fileIndex + 1}/${shardNames.length})`);
      const st = readSafetensors(p);
      for (const t of st.tensors) {
        stored.add(t.name);
        if (shardOf?.has(t.name) && shardOf.get(t.name) !== shard) {
          throw new FormatError(`${p}: tensor '${t.name}' is listed in the index under '${shardOf.get(t.name)}'`);
        }
        const mapped = hfName(family, t.name);
        if (!mapped) continue;
        entries.push(hfEntry(t, mapped.name, mapped.transposed, fileIndex, p));
      }
      files.push(openFileBytes(p, { mode: options.io ?? 'auto' }));
    });
    for (const name of shardOf?.keys() ?? []) {
      if (!stored.has(name)) throw new FormatError(`${indexPath}: tensor '${name}' is not in its shard '${shardOf!.get(name)}'`);
    }
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }

  let config: ModelConfig;
  try {
    config = hfModelConfig(cfg, family, arch || modelType, entries, dir);
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
  let tokenizer: TokenizerSource = { kind: 'none' };
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else if (existsSync(join(dir, 'tokenizer.json'))) tokenizer = { kind: 'hf', path: join(dir, 'tokenizer.json') };
  return assemble({ format: 'safetensors', path: dir, config, entries, files, tokenizer, hfConfig: cfg });
}

/** config.json → ModelConfig (Llama family or GPT-2 key names). */
function hfModelConfig(cfg: Record<string, unknown>, family: ModelFamily, architecture: string, entries: TensorEntry[], dir: string): ModelConfig {
  const where = join(dir, 'config.json');
  const dim = positive(hfNumber(cfg, ['hidden_size', 'n_embd']), 'hidden_size', where);
  const nHeads = positive(hfNumber(cfg, ['num_attention_heads', 'n_head']), 'num_attention_heads', where);
  const headDim = hfNumber(cfg, ['head_dim']) ?? dim / nHeads;
  const isGpt2 = family === 'gpt2';
  const hasOutput = entries.some((e) => e.name === 'output.weight');
  const tieFlag = cfg.tie_word_embeddings;
  const config: ModelConfig = {
    architecture,
    family,
    dim,
    nLayers: positive(hfNumber(cfg, ['num_hidden_layers', 'n_layer']), 'num_hidden_layers', where),
    nHeads,
    nKvHeads: positive(hfNumber(cfg, ['num_key_value_heads']) ?? nHeads, 'num_key_value_heads', where),
    headDim: positive(headDim, 'head_dim', where),
    ffnDim: positive(hfNumber(cfg, ['intermediate_size', 'n_inner']) ?? (isGpt2 ? 4 * dim : undefined), 'intermediate_size', where),
    vocabSize: positive(hfNumber(cfg, ['vocab_size']), 'vocab_size', where),
    contextLength: positive(hfNumber(cfg, ['max_position_embeddings', 'n_positions', 'n_ctx']), 'max_position_embeddings', where),
    norm: isGpt2 ? 'layernorm' : 'rmsnorm',
    normEps: hfNumber(cfg, ['rms_norm_eps', 'layer_norm_epsilon']) ?? 1e-5,
    mlp: isGpt2 ? 'gelu' : 'swiglu',
    positions: isGpt2 ? 'learned' : 'rope',
    ropeTheta: hfNumber(cfg, ['rope_theta']) ?? 10000,
    ropeDims: headDim * (hfNumber(cfg, ['partial_rotary_factor']) ?? 1),
    ropeLayout: 'half',
    // HF ties unless told otherwise (tie_word_embeddings defaults to true); a stored lm_head wins.
    tiedEmbeddings: !hasOutput && tieFlag !== false,
  };
  if (!hasOutput && tieFlag === false) throw new FormatError(`${dir}: config says tie_word_embeddings=false but there is no lm_head.weight`);
  checkModelConfig(config, where, {
    dim: 'hidden_size', nLayers: 'num_hidden_layers', nHeads: 'num_attention_heads', nKvHeads: 'num_key_value_heads', headDim: 'head_dim',
    ffnDim: 'intermediate_size', vocabSize: 'vocab_size', contextLength: 'max_position_embeddings',
    normEps: isGpt2 ? 'layer_norm_epsilon' : 'rms_norm_eps', ropeTheta: 'rope_theta', ropeDims: 'head_dim × partial_rotary_factor',
  });
  return config;
}

function hfEntry(t: SafetensorsTensor, name: string, transposed: boolean, file: number, path: string): TensorEntry {
  if (!t.type || !['F32', 'F16', 'BF16'].includes(t.type)) {
    throw new FormatError(`${path}: tensor '${t.name}' has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
  }
  let shape = [...t.shape];
  if (transposed) {
    if (shape.length !== 2) throw new FormatError(`${path}: Conv1D weight '${t.name}' should be 2-D, got [${shape.join(', ')}]`);
    shape = [shape[1]!, shape[0]!];
  }
  return { name, type: t.type, shape, offset: t.offset, byteLength: t.byteLength, file, ...(transposed ? { transposed } : {}) };
}
