/**
 * One view of a model file, whatever its format (GGUF, a Hugging Face safetensors directory, a
 * llama2.c .bin): the architecture name the file declares, its raw metadata (GGUF key/values,
 * config.json, the llama2.c header) and named tensors as backend `Weights` views into the
 * memory-mapped file. It knows no model family: reading hyperparameters from the metadata and
 * naming tensors is the architecture table's job (ts/models/architectures.ts).
 *
 * Tensor names are as stored: GGUF's (llama.cpp's) names for GGUF and llama2.c files, the
 * checkpoint's own names for a Hugging Face directory. `renamed()` gives a view under other names
 * (the families map Hugging Face names to GGUF's, transposing Conv1D weights). GGUF names:
 *   token_embd.weight [vocab, dim]            position_embd.weight [ctx, dim] (GPT-2)
 *   blk.N.attn_norm.{weight,bias}             blk.N.ffn_norm.{weight,bias}
 *   blk.N.attn_q / attn_k / attn_v.{weight,bias} (Llama family; bias for Qwen2-style)
 *   blk.N.attn_qkv.{weight,bias} [3·dim, dim] (GPT-2, fused q|k|v rows)
 *   blk.N.attn_output.{weight,bias}
 *   blk.N.ffn_gate / ffn_up / ffn_down.{weight,bias}
 *   output_norm.{weight,bias}                 output.weight [vocab, dim] (absent when tied)
 * Shapes are row-major, outermost first: every Linear weight is [out, in] (HF GPT-2's Conv1D
 * [in, out] weights are transposed on access).

 */
import '../dispose-symbols.js';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Weights } from '../backend/types.js';
import { FormatError } from './byte-source.js';
import { metaString, readGGUF, type GGUFFile } from './gguf.js';
import { readLlama2c, type Llama2cConfig } from './llama2c.js';
import { defaultIoMode, openFileBytes, type FileBytes, type FileIoMode } from './mapped-file.js';
import { readSafetensors, readSafetensorsIndex } from './safetensors.js';
import { tensorF32, tensorWeights, type TensorEntry } from './tensor-data.js';

export type ModelFormat = 'gguf' | 'safetensors' | 'llama2c';
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
  /** As the file names it: GGUF general.architecture, HF architectures[0] (else model_type), or 'llama2.c'. */
  readonly architecture: string;
  /** Stored name → entry, in file order. */
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
  /**
   * A view of the same tensors under other names: `rename(stored)` gives the new name (and
   * whether the stored 2-D weight is [in, out] and must be read transposed), or null to drop the
   * tensor. Closing either view closes the files.
   */
  renamed(rename: (stored: string) => TensorRename | null): ModelFile;
}

export interface TensorRename {
  name: string;
  transposed?: boolean;
}

export interface OpenModelOptions {
  /** A tokenizer file to use instead of the one found with the model. */
  tokenizer?: string;
  /** How the file's bytes are held: 'read' forces fs reads instead of mmap, 'huge' an anonymous huge-page copy (see ./mapped-file.ts). Default: defaultIoMode() (TENSORLOOM_IO). */
  io?: FileIoMode;
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
  architecture: string;
  entries: TensorEntry[];
  files: FileBytes[];
  tokenizer: TokenizerSource;
  gguf?: GGUFFile;
  hfConfig?: Record<string, unknown>;
  llama2c?: Llama2cConfig;
  /** Stored tensors that cannot be read (dtype), with the reason, for an error when one is used. */
  unreadable?: Map<string, string>;
}

/** The files and their closed flag, shared by a file and every renamed view of it. */
interface Shared {
  files: FileBytes[];
  closed: boolean;
  copied: Map<string, number>;
}

function assemble(p: Parts, shared: Shared = { files: p.files, closed: false, copied: new Map() }): ModelFile {
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
  const track = <T extends ArrayBufferView>(e: TensorEntry, data: T): T => {
    if (data.buffer !== shared.files[e.file]!.bytes.buffer) shared.copied.set(e.name, Math.max(shared.copied.get(e.name) ?? 0, data.byteLength));
    return data;
  };
  const bytesOf = (e: TensorEntry) => {
    if (shared.closed) throw new Error(`${p.path}: model file is closed`);
    return shared.files[e.file]!.bytes;
  };
  const close = () => {
    if (shared.closed) return;
    shared.closed = true;
    for (const f of shared.files) f.close();
  };
  const self: ModelFile = {
    format: p.format,
    path: p.path,
    architecture: p.architecture,
    tensors,
    tokenizer: p.tokenizer,
    ...(p.gguf ? { gguf: p.gguf } : {}),
    ...(p.hfConfig ? { hfConfig: p.hfConfig } : {}),
    ...(p.llama2c ? { llama2c: p.llama2c } : {}),
    mapped: shared.files.every((f) => f.mapped),
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
    copiedBytes: () => [...shared.copied.values()].reduce((a, b) => a + b, 0),
    tensorBytes: () => p.entries.reduce((s, e) => s + e.byteLength, 0),
    residentBytes: () => shared.files.reduce((s, f) => s + f.residentBytes(), 0),
    close,
    [Symbol.dispose]: close,
    renamed: (rename) => {
      const entries: TensorEntry[] = [];
      for (const e of p.entries) {
        const r = rename(e.name);
        if (!r) continue;
        entries.push(renameEntry(e, r, p.path));
      }
      for (const [stored, why] of p.unreadable ?? []) if (rename(stored)) throw new FormatError(`${p.path}: tensor '${stored}' ${why}`);
      return assemble({ ...p, entries, unreadable: new Map() }, shared);
    },
  };
  return self;
}

function renameEntry(e: TensorEntry, r: TensorRename, path: string): TensorEntry {
  if (!r.transposed) return { ...e, name: r.name };
  if (e.shape.length !== 2) throw new FormatError(`${path}: weight '${e.name}' stored [in, out] should be 2-D, got [${e.shape.join(', ')}]`);
  return { ...e, name: r.name, shape: [e.shape[1]!, e.shape[0]!], transposed: !e.transposed };
}

// ── GGUF ────────────────────────────────────────────────────────────────────────────────────────

function openGGUF(path: string, options: OpenModelOptions): ModelFile {
  options.onProgress?.(`reading GGUF header of ${path}`);
  const g = readGGUF(path);
  const arch = metaString(g, 'general.architecture');
  if (!arch) throw new FormatError(`${path}: general.architecture is missing`);
  const entries: TensorEntry[] = g.tensors.map((t) => ({
    name: t.name, type: t.type, shape: [...t.dims].reverse(), offset: t.offset, byteLength: t.byteLength, file: 0,
  }));
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  let tokenizer: TokenizerSource = { kind: 'none' };
  const tokModel = metaString(g, 'tokenizer.ggml.model');
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else if (tokModel && Array.isArray(tokens)) tokenizer = { kind: 'gguf', model: tokModel, vocabSize: tokens.length, gguf: g };
  options.onProgress?.(`mapping ${g.tensors.length} tensors (${(g.fileSize / 1e6).toFixed(1)} MB)`);
  const files = [openFileBytes(path, { mode: fileMode(options.io) })];
  hugeDense(entries, files, options.io);
  return assemble({ format: 'gguf', path, architecture: arch, entries, files, tokenizer, gguf: g });
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

// ── io: 'huge' ─────────────────────────────────────────────────────────────────────────────────

/** The mode files are opened in: 'huge' opens them as 'auto' and hugeDense moves their dense parts. */
function fileMode(io: FileIoMode | undefined): FileIoMode {
  const mode = io ?? defaultIoMode();
  return mode === 'huge' ? 'auto' : mode;
}

/** Token embeddings: read one row per token, so left in the page cache when something else is the LM head. */
const EMBEDDING = /(^|\.)(token_embd|per_layer_token_embd|embed_tokens|embed_tokens_per_layer|tok_embeddings|wte|word_embeddings)\.weight$/;
const LM_HEAD = /(^|\.)(output|lm_head)\.weight$/;

/**
 * io 'huge': every tensor decode streams whole (all but an untied token embedding) moved to
 * anonymous 2 MiB pages (FileBytes.hugePages; see ./mapped-file.ts for why), runs of tensors
 * merged so the padding between them does not split a page.
 */
function hugeDense(entries: readonly TensorEntry[], files: readonly FileBytes[], io: FileIoMode | undefined): void {
  if ((io ?? defaultIoMode()) !== 'huge') return;
  const untied = entries.some((e) => LM_HEAD.test(e.name));
  files.forEach((f, i) => {
    const dense = entries.filter((e) => e.file === i && e.byteLength > 0 && !(EMBEDDING.test(e.name) && (untied || e.name.includes('per_layer'))));
    dense.sort((a, b) => a.offset - b.offset);
    let start = -1, end = -1;
    for (const e of dense) {
      if (start >= 0 && e.offset <= end + 4096) end = Math.max(end, e.offset + e.byteLength);
      else {
        if (start >= 0) f.hugePages(start, end - start);
        start = e.offset;
        end = e.offset + e.byteLength;
      }
    }
    if (start >= 0) f.hugePages(start, end - start);
  });
}

// ── llama2.c ────────────────────────────────────────────────────────────────────────────────────

function openLlama2c(path: string, options: OpenModelOptions): ModelFile {
  const m = readLlama2c(path);
  const c = m.config;
  let tokenizer: TokenizerSource = { kind: 'none' };
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else {
    const found = findLlama2cTokenizer(path, c.vocabSize);
    if (found) tokenizer = { kind: 'llama2c', path: found };
  }
  options.onProgress?.(`mapping ${m.tensors.length} tensors (${(m.fileSize / 1e6).toFixed(1)} MB)`);
  const files = [openFileBytes(path, { mode: fileMode(options.io) })];
  hugeDense(m.tensors, files, options.io);
  return assemble({ format: 'llama2c', path, architecture: 'llama2.c', entries: m.tensors, files, tokenizer, llama2c: c });
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

function openHF(dir: string, options: OpenModelOptions): ModelFile {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new FormatError(`${dir}: no config.json (not a Hugging Face model directory)`);
  const cfg = readJson(cfgPath);
  const archs = cfg.architectures;
  const arch = Array.isArray(archs) && typeof archs[0] === 'string' ? archs[0] : typeof cfg.model_type === 'string' ? cfg.model_type : '';

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
  const unreadable = new Map<string, string>();
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
        if (!t.type || !['F32', 'F16', 'BF16'].includes(t.type)) unreadable.set(t.name, `has dtype ${t.dtype}; weights must be F32, F16 or BF16`);
        else entries.push({ name: t.name, type: t.type, shape: [...t.shape], offset: t.offset, byteLength: t.byteLength, file: fileIndex });
      }
      files.push(openFileBytes(p, { mode: fileMode(options.io) }));
    });
    for (const name of shardOf?.keys() ?? []) {
      if (!stored.has(name)) throw new FormatError(`${indexPath}: tensor '${name}' is not in its shard '${shardOf!.get(name)}'`);
    }
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }

  let tokenizer: TokenizerSource = { kind: 'none' };
  if (options.tokenizer) tokenizer = tokenizerFromPath(options.tokenizer);
  else if (existsSync(join(dir, 'tokenizer.json'))) tokenizer = { kind: 'hf', path: join(dir, 'tokenizer.json') };
  hugeDense(entries, files, options.io);
  return assemble({ format: 'safetensors', path: dir, architecture: arch, entries, files, tokenizer, hfConfig: cfg, unreadable });
}
