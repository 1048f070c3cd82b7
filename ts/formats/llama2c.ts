/**
 * llama2.c's legacy checkpoint (`export.py --version 0`, what run.c reads) and its tokenizer.bin.
 *
 * Model: 7 × int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len);
 * a negative vocab_size means the classifier is stored separately (not tied to the embedding).
 * Then f32 arrays, each holding all layers back to back, in run.c's order:
 *   token_embedding [vocab, dim] · rms_att [L, dim] · wq [L, dim, dim] · wk [L, kvDim, dim]
 *   · wv [L, kvDim, dim] · wo [L, dim, dim] · rms_ffn [L, dim] · w1 [L, hidden, dim]
 *   · w2 [L, dim, hidden] · w3 [L, hidden, dim] · rms_final [dim]
 *   · freq_cis_real, freq_cis_imag [seq_len, head_size/2] each (unused; RoPE is recomputed)
 *   · wcls [vocab, dim] (only when vocab_size < 0)
 * Linear weights are [out, in]. Q/K rows are in Meta's interleaved RoPE layout (pairs 2i, 2i+1).
 *
 * Tokenizer: int32 max_token_length, then per token: f32 score, int32 byte length, bytes.
 * The token count is not stored: it is the model's vocab_size.
 */
import { bufferSource, Cursor, fileSource, FormatError, type ByteSource } from './byte-source.js';
import type { TensorEntry } from './tensor-data.js';

export interface Llama2cConfig {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  /** vocab_size > 0 in the header: the classifier reuses the token embedding. */
  sharedClassifier: boolean;
}

export interface Llama2cModel {
  config: Llama2cConfig;
  /** Canonical (GGUF-style) names → where the f32 data lies in the file. */
  tensors: TensorEntry[];
  fileSize: number;
}

const HEADER_BYTES = 28;
const LIMIT = 1 << 20; // sanity bound for any single header field

/** Parses the header and lays out the tensors; checks the file holds exactly what it declares. */
export function readLlama2c(input: string | Uint8Array): Llama2cModel {
  const src: ByteSource = typeof input === 'string' ? fileSource(input, HEADER_BYTES) : bufferSource(input);
  try {
    return parse(new Cursor(src));
  } finally {
    src.close();
  }
}

function parse(c: Cursor): Llama2cModel {
  const label = c.src.label;
  if (c.remaining < HEADER_BYTES) c.fail('llama2.c header', `file is ${c.remaining} bytes; the header alone takes ${HEADER_BYTES}`, 0);
  // The legacy format has no magic; newer export versions start with "ak42".
  const first = c.u32('magic');
  if (first === 0x616b3432) c.fail('llama2.c header', 'this is a llama2.c export version ≥ 1 file ("ak42" magic); only the legacy version 0 format (run.c) is supported', 0);
  c.pos = 0;
  const field = (name: string, min: number) => {
    const at = c.pos;
    const v = c.i32(name);
    if (v < min || v > LIMIT) c.fail(`llama2.c header field ${name}`, `value ${v} is out of range [${min}, ${LIMIT}] (not a llama2.c model?)`, at);
    return v;
  };
  const dim = field('dim', 1);
  const hiddenDim = field('hidden_dim', 1);
  const nLayers = field('n_layers', 1);
  const nHeads = field('n_heads', 1);
  const nKvHeads = field('n_kv_heads', 1);
  const vocabAt = c.pos;
  const rawVocab = c.i32('vocab_size');
  if (rawVocab === 0 || Math.abs(rawVocab) > LIMIT) c.fail('llama2.c header field vocab_size', `value ${rawVocab} is out of range`, vocabAt);
  const seqLen = field('seq_len', 1);
  if (dim % nHeads !== 0) throw new FormatError(`${label}: dim ${dim} is not a multiple of n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new FormatError(`${label}: n_heads ${nHeads} is not a multiple of n_kv_heads ${nKvHeads}`);
  const headSize = dim / nHeads;
  if (headSize % 2 !== 0) throw new FormatError(`${label}: head size ${headSize} must be even for RoPE`);
  const config: Llama2cConfig = { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(rawVocab), seqLen, sharedClassifier: rawVocab > 0 };
  const kvDim = nKvHeads * headSize;
  const V = config.vocabSize;

  // The size the header implies, checked against the file before any tensor entry is made: a
  // lying header (n_layers = 2^20 in a 1 MB file) fails here in microseconds, not after building
  // millions of entries. (Doubles: every factor is ≤ 2^20, so the sum is exact enough to compare.)
  const perLayerFloats = 2 * dim + 2 * dim * dim + 2 * kvDim * dim + 3 * hiddenDim * dim;
  const floats = V * dim + nLayers * perLayerFloats + dim + seqLen * headSize + (config.sharedClassifier ? 0 : V * dim);
  const needed = HEADER_BYTES + floats * 4;
  if (needed !== c.src.size) {
    const size = c.src.size;
    throw new FormatError(
      needed > size
        ? `${label}: the header (dim ${dim}, hidden ${hiddenDim}, ${nLayers} layers, vocab ${V}, seq_len ${seqLen}) needs ${needed} bytes of weights but the file has ${size} (truncated or not a llama2.c model)`
        : `${label}: ${size - needed} unexpected bytes after the weights (header says ${needed}; wrong header or not a legacy llama2.c model)`,
    );
  }

  const tensors: TensorEntry[] = [];
  let offset = HEADER_BYTES;
  /** Reserves one all-layers array; returns its start. */
  const block = (elements: number) => {
    const start = offset;
    offset += elements * 4;
    return start;
  };
  const add = (name: string, shape: number[], at: number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.push({ name, type: 'F32', shape, offset: at, byteLength: n * 4, file: 0 });
  };
  const perLayer = (nameOf: (l: number) => string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const start = block(n * nLayers);
    for (let l = 0; l < nLayers; l++) add(nameOf(l), shape, start + l * n * 4);
  };
  add('token_embd.weight', [V, dim], block(V * dim));
  perLayer((l) => `blk.${l}.attn_norm.weight`, [dim]);
  perLayer((l) => `blk.${l}.attn_q.weight`, [dim, dim]);
  perLayer((l) => `blk.${l}.attn_k.weight`, [kvDim, dim]);
  perLayer((l) => `blk.${l}.attn_v.weight`, [kvDim, dim]);
  perLayer((l) => `blk.${l}.attn_output.weight`, [dim, dim]);
  perLayer((l) => `blk.${l}.ffn_norm.weight`, [dim]);
  perLayer((l) => `blk.${l}.ffn_gate.weight`, [hiddenDim, dim]);
  perLayer((l) => `blk.${l}.ffn_down.weight`, [dim, hiddenDim]);
  perLayer((l) => `blk.${l}.ffn_up.weight`, [hiddenDim, dim]);
  add('output_norm.weight', [dim], block(dim));
  block(seqLen * headSize); // freq_cis_real + freq_cis_imag, seq_len × head_size/2 each (unused)
  if (!config.sharedClassifier) add('output.weight', [V, dim], block(V * dim));

  const size = c.src.size;
  if (offset > size) {
    throw new FormatError(`${label}: the header (dim ${dim}, hidden ${hiddenDim}, ${nLayers} layers, vocab ${V}, seq_len ${seqLen}) needs ${offset} bytes of weights but the file has ${size} (truncated or not a llama2.c model)`);
  }
  if (offset < size) {
    throw new FormatError(`${label}: ${size - offset} unexpected bytes after the weights (header says ${offset}; wrong header or not a legacy llama2.c model)`);
  }
  return { config, tensors, fileSize: size };
}

export interface Llama2cTokenizer {
  maxTokenLength: number;
  /** Token pieces as UTF-8 text, e.g. "<unk>", "\n<s>\n", "<0x0A>", "▁the" is stored as " the". */
  tokens: string[];
  /** The raw bytes of each piece (exact, even if not valid UTF-8). */
  pieces: Uint8Array[];
  scores: Float32Array;
}

/** Reads tokenizer.bin; `vocabSize` (the model's) bounds the count, else it reads to end of file. */
export function readLlama2cTokenizer(input: string | Uint8Array, vocabSize?: number): Llama2cTokenizer {
  const src: ByteSource = typeof input === 'string' ? fileSource(input) : bufferSource(input);
  try {
    const c = new Cursor(src);
    const maxAt = c.pos;
    const maxTokenLength = c.i32('max_token_length');
    if (maxTokenLength < 1 || maxTokenLength > 1 << 16) c.fail('max_token_length', `value ${maxTokenLength} is out of range (not a llama2.c tokenizer.bin?)`, maxAt);
    const tokens: string[] = [];
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
    while (vocabSize === undefined ? c.remaining > 0 : tokens.length < vocabSize) {
      const i = tokens.length;
      scores.push(c.f32(`score of token ${i}`));
      const lenAt = c.pos;
      const len = c.i32(`length of token ${i}`);
      if (len < 0 || len > maxTokenLength) c.fail(`length of token ${i}`, `${len} is outside [0, max_token_length ${maxTokenLength}]`, lenAt);
      const bytes = c.bytesCopy(len, `bytes of token ${i}`);
      pieces.push(bytes);
      tokens.push(decoder.decode(bytes));
    }
    if (vocabSize !== undefined && c.remaining > 0) {
      throw new FormatError(`${src.label}: ${c.remaining} bytes left after ${vocabSize} tokens (tokenizer does not match the model's vocab size?)`);
    }
    return { maxTokenLength, tokens, pieces, scores: Float32Array.from(scores) };
  } finally {
    src.close();
  }
}
