/**
 * Any model tensorloom opens (llama2.c .bin, Hugging Face directory, GGUF) → a GGUF file that
 * llama.cpp loads, following llama.cpp's own converters:
 * - hyperparameters under `<arch>.*` with llama.cpp's value types (u32 counts, f32 eps/theta);
 * - HF Llama/Mistral Q/K rows permuted from the "half" RoPE layout to the interleaved one
 *   (convert_hf_to_gguf.py's `permute`); llama2.c weights are interleaved already and are copied;
 * - HF GPT-2's Conv1D weights transposed to [out, in];
 * - 1-D tensors stay F32; matrices become the requested type, or for a quantized type the type
 *   llama.cpp's quantizer would give them (./quant-mix.ts: mixes such as q4_k_m, block fallbacks),
 *   quantized byte-exactly as llama.cpp does (ts/backend/quants);
 * - the tokenizer embedded as `tokenizer.ggml.*`: llama2.c tokenizer.bin → SentencePiece-style
 *   "llama" vocabulary; HF tokenizer.json (read by ts/tokenizers) → "gpt2" for byte-level BPE or
 *   "llama" for SentencePiece-style BPE; a GGUF's own keys are copied.
 */
import { basename } from 'node:path';
import { FormatError } from './byte-source.js';
import { quantizeRows } from '../backend/quants/index.js';
import { WEIGHT_TYPES, type DType } from '../backend/weight-types.js';
import { f32ArrayToF16, quantizeQ8_0 } from './dtype-convert.js';
import type { GGMLTypeName } from './ggml-types.js';
import { chooseTensorTypes, QUANT_MIXES } from './quant-mix.js';
import type { GGUFFile } from './gguf.js';
import { u32, writeGGUF, type GGUFWriteInput, type GGUFWriteTensor, type GGUFWriteValue } from './gguf-writer.js';
import { readLlama2cTokenizer } from './llama2c.js';
import type { ModelFile } from './model-file.js';
import { loadAddon } from '../native/addon.js';
import { ByteLevelBPE } from '../tokenizers/bpe.js';
import { loadHFTokenizer } from '../tokenizers/loaders/huggingface.js';
import { preTokenizerFor, preTokenizerNames } from '../tokenizers/pretokenizers.js';
import { SentencePieceBPE } from '../tokenizers/spm.js';
import type { VocabTokenizer } from '../tokenizers/tokenizer.js';

/** A weight type or one of llama.cpp's mixes: a key of QUANT_MIXES (f32, f16, q8_0, q4_k_m, …). */
export type ConvertType = string;

export interface ConvertOptions {
  type?: ConvertType;
  /** general.name; default: the input's base name. */
  name?: string;
  onProgress?: (message: string) => void;
}

/**
 * What to write for a model, decided by its family in ts/models (this module knows none): the
 * `general.architecture`, the `<arch>.*` hyperparameters, and which Q/K tensors to permute.
 */
export interface ConvertTarget {
  /** llama.cpp's architecture name (general.architecture). */
  arch: string;
  /** The hyperparameter keys (`<arch>.*`), in llama.cpp's value types. */
  metadata: [string, GGUFWriteValue][];
  vocabSize: number;
  /** Heads of a tensor whose rows go from the "half" RoPE layout to the interleaved one (0 = copy as is). */
  permuteHeads(name: string): number;
  /** f32 vectors to add after the model's tensors (derived from the config, e.g. Llama 3's rope_freqs). */
  extraTensors?: { name: string; data: Float32Array }[];
  /** The counts llama.cpp's quantizer rules look at (which layer a tensor is in, GQA). */
  shape: { nLayers: number; nHeads: number; nKvHeads: number };
  /** Tensors of one shape written as one tensor with an outer dimension (per-expert HF weights → GGUF's stacked experts). */
  stacks?: { name: string; parts: string[] }[];
  /**
   * A constant added to every value of a tensor (0 = none): Gemma's Hugging Face norm weights
   * hold w − 1 (the model scales by 1 + w), llama.cpp's converter stores 1 + w.
   */
  shift?(name: string): number;
}

/**
 * Rows of a Q or K projection [nHeads·headDim, cols], per head from (i, i + D/2) pairs to
 * (2i, 2i+1) pairs: new row 2i + j ← old row j·D/2 + i (within each head).
 */
export function permuteHalfToInterleaved<T extends Float32Array | Uint16Array>(w: T, nHeads: number, cols: number): T {
  const rows = w.length / cols;
  const D = rows / nHeads;
  if (!Number.isInteger(D) || D % 2 !== 0) throw new FormatError(`cannot permute ${rows} rows into ${nHeads} heads of even size`);
  const out = new (w.constructor as { new (n: number): T })(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < D / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const src = h * D + j * (D / 2) + i;
        const dst = h * D + 2 * i + j;
        out.set(w.subarray(src * cols, (src + 1) * cols), dst * cols);
      }
    }
  }
  return out;
}

/** The native conversions when the addon is loaded (same rounding, ~50× faster), else plain TS. */
function toF16(x: Float32Array): Uint16Array {
  const addon = loadAddon().addon;
  if (typeof addon?.f32ToF16 !== 'function') return f32ArrayToF16(x);
  const out = new Uint16Array(x.length);
  addon.f32ToF16(out, x);
  return out;
}

function toQ8_0(x: Float32Array): Uint8Array {
  const addon = loadAddon().addon;
  if (typeof addon?.quantizeQ8_0 !== 'function') return quantizeQ8_0(x);
  const out = new Uint8Array((x.length / 32) * 34);
  addon.quantizeQ8_0(out, x);
  return out;
}

function mixFor(want: ConvertType) {
  const mix = QUANT_MIXES[want];
  if (!mix) throw new FormatError(`unknown --type '${want}' (one of ${Object.keys(QUANT_MIXES).join(', ')})`);
  return mix;
}

/** The stored type of every tensor for `want` (see ./quant-mix.ts). */
function storedTypes(m: ModelFile, want: ConvertType, target: ConvertTarget): Map<string, GGMLTypeName> {
  const mix = mixFor(want);
  const entries = [...m.tensors.values()];
  const out = new Map<string, GGMLTypeName>();
  if (WEIGHT_TYPES[mix.base].storage !== 'blocks') {
    // float targets: every matrix in the requested type, vectors in F32
    for (const e of entries) out.set(e.name, e.shape.length < 2 ? 'F32' : (WEIGHT_TYPES[mix.base].ggmlName as GGMLTypeName));
    return out;
  }
  const chosen = chooseTensorTypes(entries, { arch: target.arch, ...target.shape }, want);
  for (const e of entries) {
    const t = chosen.get(e.name);
    // a tensor the quantizer leaves alone keeps a float type (F32 for vectors and quantized sources)
    const keep: GGMLTypeName = e.shape.length >= 2 && (e.type === 'F16' || e.type === 'BF16') ? e.type : 'F32';
    out.set(e.name, t ? (WEIGHT_TYPES[t].ggmlName as GGMLTypeName) : keep);
  }
  return out;
}

/** f32 rows → the stored bytes of a type (native Q8_0/F16 when the addon is loaded: same bytes, faster). */
function encode(values: Float32Array, type: GGMLTypeName, cols: number): Float32Array | Uint16Array | Uint8Array {
  if (type === 'F32') return values;
  if (type === 'F16') return toF16(values);
  if (type === 'Q8_0') return toQ8_0(values);
  const dtype = (Object.keys(WEIGHT_TYPES) as DType[]).find((d) => WEIGHT_TYPES[d].ggmlName === type);
  if (!dtype) throw new FormatError(`cannot write type ${type}`);
  return quantizeRows(dtype, values, cols);
}

/** The converted tensor list (names in canonical order, data produced lazily). */
function tensorsFor(m: ModelFile, want: ConvertType, target: ConvertTarget, progress?: (msg: string) => void): GGUFWriteTensor[] {
  const out: GGUFWriteTensor[] = [];
  const names = [...m.tensors.keys()];
  const stackOf = new Map<string, { name: string; parts: string[] }>();
  for (const s of target.stacks ?? []) for (const p of s.parts) stackOf.set(p, s);
  const types = storedTypes(m, want, target);
  names.forEach((name, index) => {
    const stack = stackOf.get(name);
    if (stack) {
      if (stack.parts[0] === name) out.push(stackedTensor(m, stack, types.get(name)!, progress));
      return;
    }
    const e = m.tensors.get(name)!;
    const type = types.get(name)!;
    const permuteHeads = target.permuteHeads(name);
    const cols = e.shape.length >= 2 ? e.shape[e.shape.length - 1]! : 1;
    out.push({
      name,
      type,
      dims: [...e.shape].reverse(),
      data: () => {
        progress?.(`[${index + 1}/${names.length}] ${name} ${e.type} → ${type}`);
        // Same stored type and nothing to rearrange: copy the bytes (lossless, also for Q8_0).
        const shift = target.shift?.(name) ?? 0;
        if (e.type === type && !permuteHeads && !e.transposed && !shift) return m.weights(name).data;
        let values = m.vector(name);
        if (permuteHeads) values = permuteHalfToInterleaved(values, permuteHeads, cols);
        if (shift) values = values.map((x) => x + shift);
        return encode(values, type, cols);
      },
    });
  });
  for (const t of target.extraTensors ?? []) out.push({ name: t.name, type: 'F32', dims: [t.data.length], data: () => t.data });
  return out;
}

/** One tensor [parts, …part shape] from equally shaped parts, in the type chosen for the first part. */
function stackedTensor(m: ModelFile, s: { name: string; parts: string[] }, type: GGMLTypeName, progress?: (msg: string) => void): GGUFWriteTensor {
  const first = m.tensors.get(s.parts[0]!)!;
  for (const p of s.parts) {
    const e = m.tensors.get(p)!;
    if (e.shape.join() !== first.shape.join()) throw new FormatError(`${m.path}: cannot stack '${p}' [${e.shape.join(', ')}] with '${s.parts[0]}' [${first.shape.join(', ')}]`);
  }
  const shape = [s.parts.length, ...first.shape];
  return {
    name: s.name,
    type,
    dims: [...shape].reverse(),
    data: () => {
      progress?.(`${s.name}: stacking ${s.parts.length} tensors → ${type}`);
      const n = first.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(n * s.parts.length);
      s.parts.forEach((p, i) => values.set(m.vector(p), i * n));
      return encode(values, type, first.shape[first.shape.length - 1] ?? 1);
    },
  };
}

/** llama2.c tokenizer.bin → llama.cpp's SentencePiece ("llama") vocabulary, as its converter writes it. */
export function llama2cTokenizerMetadata(path: string, vocabSize: number): [string, GGUFWriteValue][] {
  const t = readLlama2cTokenizer(path, vocabSize);
  const tokens: string[] = [];
  const types = new Int32Array(t.tokens.length);
  t.tokens.forEach((piece, id) => {
    // Ids 0..2 are <unk>, <s>, </s> (llama2.c stores them as "<unk>", "\n<s>\n", "\n</s>\n").
    if (id === 0) { tokens.push('<unk>'); types[id] = 2; return; }      // UNKNOWN
    if (id === 1) { tokens.push('<s>'); types[id] = 3; return; }        // CONTROL
    if (id === 2) { tokens.push('</s>'); types[id] = 3; return; }       // CONTROL
    if (/^<0x[0-9A-F]{2}>$/.test(piece)) { tokens.push(piece); types[id] = 6; return; } // BYTE
    tokens.push(piece.replaceAll(' ', '\u2581'));
    types[id] = 1; // NORMAL
  });
  return [
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', tokens],
    ['tokenizer.ggml.scores', t.scores],
    ['tokenizer.ggml.token_type', types],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
    ['tokenizer.ggml.bos_token_id', u32(1)],
    ['tokenizer.ggml.eos_token_id', u32(2)],
    ['tokenizer.ggml.add_bos_token', true],
    ['tokenizer.ggml.add_eos_token', false],
  ];
}

/** Copies every tokenizer.* key of a GGUF with its stored types. */
function ggufTokenizerMetadata(g: GGUFFile): [string, GGUFWriteValue][] {
  const out: [string, GGUFWriteValue][] = [];
  for (const [key, value] of g.metadata) {
    if (!key.startsWith('tokenizer.')) continue;
    const t = g.metadataTypes.get(key)!;
    out.push([key, { ...t, value }]);
  }
  return out;
}

/** The llama.cpp `tokenizer.ggml.pre` name whose regexes are exactly these, if any. */
function llamaCppPreName(sources: readonly string[]): string | null {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  // Prefer the names llama.cpp's converters write.
  const preferred = ['gpt-2', 'llama-bpe', 'qwen2', 'deepseek-llm', 'deepseek-coder', 'falcon', 'starcoder', 'gpt-4o', 'tekken', 'bloom', 'default'];
  for (const name of [...preferred, ...preTokenizerNames()]) {
    try {
      if (same(preTokenizerFor(name).sources, sources)) return name;
    } catch {
      // a preferred name this version does not know
    }
  }
  return null;
}

/**
 * A Hugging Face tokenizer.json (+ tokenizer_config.json), read by ts/tokenizers, → llama.cpp's
 * vocabulary: byte-level BPE → "gpt2" (tokens, types, merges, the matching pre-tokenizer name);
 * SentencePiece-style BPE (byte_fallback / ▁, Llama 2, Mistral) → "llama" (tokens, scores from the
 * merge ranks, types).
 */
export function hfTokenizerMetadata(path: string, progress?: (msg: string) => void): [string, GGUFWriteValue][] {
  let tok: VocabTokenizer;
  try {
    tok = loadHFTokenizer(path);
  } catch (err) {
    throw new FormatError(`${path}: ${(err as Error).message}`);
  }
  const v = tok.vocab;
  const meta: [string, GGUFWriteValue][] = [];
  if (tok.model instanceof ByteLevelBPE) {
    let pre = llamaCppPreName(tok.model.preTokenizer.sources);
    if (!pre) {
      progress?.(`warning: ${path}: its pre-tokenizer regexes match no llama.cpp preset; writing 'default'`);
      pre = 'default';
    }
    meta.push(
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.pre', pre],
      ['tokenizer.ggml.tokens', [...v.tokens]],
      ['tokenizer.ggml.token_type', Int32Array.from(v.types)],
      ['tokenizer.ggml.merges', tok.model.merges.map(([l, r]) => `${l} ${r}`)],
    );
  } else if (tok.model instanceof SentencePieceBPE) {
    meta.push(
      ['tokenizer.ggml.model', 'llama'],
      ['tokenizer.ggml.tokens', [...v.tokens]],
      ['tokenizer.ggml.scores', v.scores ?? new Float32Array(v.size)],
      ['tokenizer.ggml.token_type', Int32Array.from(v.types)],
    );
  } else {
    throw new FormatError(`${path}: a ${tok.family} tokenizer cannot be embedded for a causal LM (expected BPE)`);
  }
  const ids = tok.specialIds;
  if (ids.bos !== undefined) meta.push(['tokenizer.ggml.bos_token_id', u32(ids.bos)]);
  if (ids.eos !== undefined) meta.push(['tokenizer.ggml.eos_token_id', u32(ids.eos)]);
  if (ids.unk !== undefined) meta.push(['tokenizer.ggml.unknown_token_id', u32(ids.unk)]);
  if (ids.pad !== undefined) meta.push(['tokenizer.ggml.padding_token_id', u32(ids.pad)]);
  meta.push(['tokenizer.ggml.add_bos_token', tok.addBos], ['tokenizer.ggml.add_eos_token', tok.addEos]);
  return meta;
}

function tokenizerMetadata(m: ModelFile, vocabSize: number, progress?: (msg: string) => void): [string, GGUFWriteValue][] {
  const t = m.tokenizer;
  switch (t.kind) {
    case 'gguf': return ggufTokenizerMetadata(t.gguf);
    case 'llama2c': return llama2cTokenizerMetadata(t.path, vocabSize);
    case 'hf': return hfTokenizerMetadata(t.path, progress);
    case 'none': throw new FormatError(`${m.path}: no tokenizer found; pass one (llama.cpp needs the vocabulary in the GGUF)`);
  }
}

/** Builds the GGUF content for a model under GGUF tensor names (tensor data is produced when written). */
export function ggufFromModel(m: ModelFile, target: ConvertTarget, options: ConvertOptions = {}): GGUFWriteInput {
  const want = options.type ?? 'f32';
  const name = options.name ?? basename(m.path).replace(/\.(bin|gguf)$/, '');
  const metadata: [string, GGUFWriteValue][] = [
    ['general.architecture', target.arch],
    ['general.name', name],
    ...target.metadata,
    ['general.file_type', u32(mixFor(want).ftype)],
    ...(WEIGHT_TYPES[mixFor(want).base].storage === 'blocks' ? [['general.quantization_version', u32(2)] as [string, GGUFWriteValue]] : []),
    ...tokenizerMetadata(m, target.vocabSize, options.onProgress),
  ];
  const tokens = metadata.find(([k]) => k === 'tokenizer.ggml.tokens')?.[1];
  if (Array.isArray(tokens) && tokens.length !== target.vocabSize) {
    throw new FormatError(`${m.path}: the tokenizer has ${tokens.length} tokens but the model's vocabulary is ${target.vocabSize}`);
  }
  return { metadata, tensors: tensorsFor(m, want, target, options.onProgress) };
}

/** Converts and writes `out`; returns the bytes written. (ts/models' `convertModel` picks the target.) */
export function convertToGGUF(m: ModelFile, target: ConvertTarget, out: string, options: ConvertOptions = {}): number {
  return writeGGUF(out, ggufFromModel(m, target, options));
}
