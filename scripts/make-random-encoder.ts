/**
 * Random-weight encoder GGUFs (embedding models) for tests and benchmarks, written directly with
 * llama.cpp's metadata keys and tensor names, so llama.cpp (node-llama-cpp) loads the same file:
 *
 *   npx tsx scripts/make-random-model.ts --arch bert|nomic-bert|xlm-roberta --size tiny|33m|110m
 *       [--pooling mean|cls|last|rank|none] [--type f32|f16] [--seed N] --gguf OUT.gguf
 *
 * bert: BERT/bge (learned positions, GELU); nomic-bert: RoPE, fused QKV, SwiGLU; xlm-roberta: a
 * `bert` file (as llama.cpp's converter writes XLM-RoBERTa) with a SentencePiece Unigram (`t5`)
 * vocabulary made up here from the bge words with Zipf-like scores.
 * The WordPiece vocabulary is bge's (../shared/tokenizers/llama.cpp-vocab/ggml-vocab-bert-bge.gguf,
 * 30522 tokens); `--pooling none` leaves `<arch>.pooling_type` out (a file that does not say);
 * `--pooling rank` adds a classification head (cls + cls.output, one output: a reranker).
 * Weights: uniform with std 1/√fan_in for matrices, std 0.5 embeddings, norms 1 ± 0.1, small biases.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { f32ArrayToF16 } from '../ts/formats/dtype-convert.js';
import { readGGUF } from '../ts/formats/gguf.js';
import { f32, u32, writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../ts/formats/gguf-writer.js';

export type EncoderArch = 'bert' | 'nomic-bert' | 'xlm-roberta';
export type EncoderSize = 'tiny' | '33m' | '110m';
export type EncoderPooling = 'mean' | 'cls' | 'last' | 'rank' | 'none';

interface EncoderShape {
  dim: number;
  nLayers: number;
  nHeads: number;
  ffnDim: number;
  contextLength: number;
}

export const ENCODER_CONFIGS: Record<EncoderSize, EncoderShape> = {
  tiny: { dim: 64, nLayers: 2, nHeads: 4, ffnDim: 128, contextLength: 128 },
  // bge-small-en-v1.5's shape
  '33m': { dim: 384, nLayers: 12, nHeads: 12, ffnDim: 1536, contextLength: 512 },
  // bert-base / bge-base
  '110m': { dim: 768, nLayers: 12, nHeads: 12, ffnDim: 3072, contextLength: 512 },
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BGE_VOCAB = [join(root, '..', 'shared'), join(root, '..', '..', 'shared')]
  .map((s) => join(s, 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-bert-bge.gguf'))
  .find((p) => existsSync(p)) ?? join(root, '..', 'shared', 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-bert-bge.gguf');

export interface MakeEncoderOptions {
  arch: EncoderArch;
  size: EncoderSize;
  pooling?: EncoderPooling;
  type?: 'f32' | 'f16';
  seed?: number;
  gguf: string;
}

/** xorshift-based uniform [0, 1) stream per (seed, tensor index). */
export function prng(seed: number, stream: number): () => number {
  let a = (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(stream + 7, 0x85ebca6b)) | 1;
  return () => {
    a ^= a << 13;
    a ^= a >>> 17;
    a ^= a << 5;
    return (a >>> 0) / 4294967296;
  };
}

export function fill(n: number, rand: () => number, std: number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  const half = std * Math.sqrt(3);
  for (let i = 0; i < n; i++) out[i] = mean + (rand() * 2 - 1) * half;
  return out;
}

/**
 * An XLM-R-style Unigram vocabulary: <s> <pad> </s> <unk> first (as the converter realigns them),
 * then "▁word" and "word" pieces from the bge words and every character they use, with Zipf-like
 * log-probability scores.
 */
export function unigramVocab(words: readonly string[]): { tokens: string[]; scores: Float32Array; types: Int32Array } {
  const tokens = ['<s>', '<pad>', '</s>', '<unk>'];
  const types = [3, 3, 3, 2];
  const seen = new Set(tokens);
  const push = (t: string) => {
    if (t.length === 0 || seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    types.push(1);
  };
  push('\u2581');
  for (const word of words) {
    if (word.startsWith('[')) continue; // [CLS], [unused0] …
    const w = word.replace(/^\u2581/, ''); // llama.cpp's WordPiece form marks word starts with "▁"
    push('\u2581' + w);
    if (w.length > 1) push(w);
    for (const ch of w) push(ch);
  }
  const scores = Float32Array.from(tokens, (_, i) => (i < 4 ? 0 : -Math.log(i + 1) - 0.01 * (i % 7)));
  return { tokens, scores, types: Int32Array.from(types) };
}

const POOLING_ID: Record<Exclude<EncoderPooling, 'none'>, number> = { mean: 1, cls: 2, last: 3, rank: 4 };

export function makeRandomEncoder(o: MakeEncoderOptions): void {
  const c = ENCODER_CONFIGS[o.size];
  if (!c) throw new Error(`unknown encoder --size ${o.size} (tiny, 33m, 110m)`);
  if (!existsSync(BGE_VOCAB)) throw new Error(`the bge vocabulary is missing: ${BGE_VOCAB}`);
  const vocab = readGGUF(BGE_VOCAB).metadata;
  const wordpiece = vocab.get('tokenizer.ggml.tokens') as string[];
  const unigram = o.arch === 'xlm-roberta' ? unigramVocab(wordpiece) : null;
  const V = unigram ? unigram.tokens.length : wordpiece.length;
  const arch = o.arch === 'nomic-bert' ? 'nomic-bert' : 'bert';
  const rope = o.arch === 'nomic-bert';
  const seed = o.seed ?? 1;
  const pooling = o.pooling ?? 'mean';
  const f16 = o.type === 'f16';
  const { dim, ffnDim: ffn } = c;

  const metadata: [string, GGUFWriteValue][] = [
    ['general.architecture', arch],
    ['general.name', `random-${o.arch}-${o.size}-seed${seed}`],
    ['general.file_type', u32(f16 ? 1 : 0)],
    [`${arch}.block_count`, u32(c.nLayers)],
    [`${arch}.context_length`, u32(c.contextLength)],
    [`${arch}.embedding_length`, u32(dim)],
    [`${arch}.feed_forward_length`, u32(ffn)],
    [`${arch}.attention.head_count`, u32(c.nHeads)],
    [`${arch}.attention.layer_norm_epsilon`, f32(1e-12)],
    [`${arch}.attention.causal`, false],
  ];
  if (rope) metadata.push([`${arch}.rope.freq_base`, f32(1000)]);
  if (pooling !== 'none') metadata.push([`${arch}.pooling_type`, u32(POOLING_ID[pooling])]);
  if (unigram) {
    // as llama.cpp's converter writes an XLM-RoBERTa SentencePiece vocabulary
    metadata.push(
      ['tokenizer.ggml.model', 't5'], ['tokenizer.ggml.pre', 'default'], ['tokenizer.ggml.tokens', unigram.tokens],
      ['tokenizer.ggml.scores', unigram.scores], ['tokenizer.ggml.token_type', unigram.types],
      ['tokenizer.ggml.add_space_prefix', true], ['tokenizer.ggml.token_type_count', u32(1)], ['tokenizer.ggml.remove_extra_whitespaces', true],
      ['tokenizer.ggml.bos_token_id', u32(0)], ['tokenizer.ggml.padding_token_id', u32(1)], ['tokenizer.ggml.eos_token_id', u32(2)],
      ['tokenizer.ggml.unknown_token_id', u32(3)], ['tokenizer.ggml.seperator_token_id', u32(2)], ['tokenizer.ggml.cls_token_id', u32(0)],
      ['tokenizer.ggml.add_bos_token', true], ['tokenizer.ggml.add_eos_token', true],
    );
  } else for (const k of ['tokenizer.ggml.token_type_count', 'tokenizer.ggml.model', 'tokenizer.ggml.pre', 'tokenizer.ggml.tokens', 'tokenizer.ggml.token_type',
    'tokenizer.ggml.unknown_token_id', 'tokenizer.ggml.seperator_token_id', 'tokenizer.ggml.padding_token_id', 'tokenizer.ggml.cls_token_id', 'tokenizer.ggml.mask_token_id']) {
    const v = vocab.get(k);
    if (v !== undefined) metadata.push([k, (k.endsWith('_id') || k.endsWith('_count') ? u32(v as number) : v) as GGUFWriteValue]);
  }

  const tensors: GGUFWriteTensor[] = [];
  let index = 0;
  const add = (name: string, shape: number[], std: number, mean = 0, keepF32 = false) => {
    const i = index++;
    const n = shape.reduce((a, b) => a * b, 1);
    const half = f16 && !keepF32 && shape.length === 2;
    tensors.push({
      name,
      type: half ? 'F16' : 'F32',
      dims: [...shape].reverse(),
      data: () => {
        const v = fill(n, prng(seed, i), std, mean);
        return half ? f32ArrayToF16(v) : v;
      },
    });
  };
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  add('token_embd.weight', [V, dim], 0.5);
  add('token_types.weight', [unigram ? 1 : 2, dim], 0.5, 0, true);
  if (!rope) add('position_embd.weight', [c.contextLength, dim], 0.5);
  add('token_embd_norm.weight', [dim], 0.1, 1);
  add('token_embd_norm.bias', [dim], 0.05);
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}`;
    if (rope) {
      add(`${p}.attn_qkv.weight`, [3 * dim, dim], w(dim)); // nomic: fused, no biases
    } else {
      for (const x of ['attn_q', 'attn_k', 'attn_v']) {
        add(`${p}.${x}.weight`, [dim, dim], w(dim));
        add(`${p}.${x}.bias`, [dim], 0.05);
      }
    }
    add(`${p}.attn_output.weight`, [dim, dim], w(dim));
    if (!rope) add(`${p}.attn_output.bias`, [dim], 0.05);
    add(`${p}.attn_output_norm.weight`, [dim], 0.1, 1);
    add(`${p}.attn_output_norm.bias`, [dim], 0.05);
    if (rope) {
      add(`${p}.ffn_up.weight`, [ffn, dim], w(dim));
      add(`${p}.ffn_gate.weight`, [ffn, dim], w(dim));
      add(`${p}.ffn_down.weight`, [dim, ffn], w(ffn));
    } else {
      add(`${p}.ffn_up.weight`, [ffn, dim], w(dim));
      add(`${p}.ffn_up.bias`, [ffn], 0.05);
      add(`${p}.ffn_down.weight`, [dim, ffn], w(ffn));
      add(`${p}.ffn_down.bias`, [dim], 0.05);
    }
    add(`${p}.layer_output_norm.weight`, [dim], 0.1, 1);
    add(`${p}.layer_output_norm.bias`, [dim], 0.05);
  }
  if (pooling === 'rank') {
    add('cls.weight', [dim, dim], w(dim));
    add('cls.bias', [dim], 0.05);
    add('cls.output.weight', [1, dim], w(dim));
    add('cls.output.bias', [1], 0.05);
  }
  writeGGUF(o.gguf, { metadata, tensors });
}
