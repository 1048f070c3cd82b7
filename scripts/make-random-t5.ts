/**
 * Random-weight T5 encoder-decoder GGUFs for tests and benchmarks, written with the metadata keys,
 * tensor names and tensor types llama.cpp's converter (conversion/t5.py + gguf-py's tensor map)
 * gives a T5ForConditionalGeneration checkpoint, so llama.cpp loads the same file:
 *
 *   npx tsx scripts/make-random-model.ts --arch t5|flan-t5 --size tiny|small|base [--type f32|f16] [--seed N] --gguf OUT.gguf [--hf DIR]
 *
 * t5: T5 v1.0 (ReLU feed-forward `wi`, LM head tied to the shared embedding); flan-t5: T5 v1.1 /
 * Flan-T5 (gated-GELU feed-forward `wi_0`/`wi_1`, untied `lm_head`). Relative attention bias tables
 * exist only in layer 0 of each stack (as in the checkpoints; llama.cpp falls back to layer 0's).
 * tiny has fewer decoder layers than encoder layers, so `t5.decoder_block_count` is exercised
 * (llama.cpp sizes its per-layer tables by the encoder's count, so more decoder layers fail there).
 * The vocabulary is a SentencePiece Unigram one in T5's layout (<pad>=0 = decoder start, </s>=1,
 * <unk>=2) built from the bge words (scripts/make-random-encoder.ts `unigramVocab`), padded with
 * `[PAD<id>]` UNUSED entries to the model's vocabulary size as the converter pads.
 * `--hf DIR` also writes the same weights as a Hugging Face folder (config.json,
 * model.safetensors, tokenizer.json).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { f32ArrayToF16 } from '../ts/formats/dtype-convert.js';
import { readGGUF } from '../ts/formats/gguf.js';
import { f32, u32, writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../ts/formats/gguf-writer.js';
import { writeSafetensors, type SafetensorsWriteTensor } from '../ts/formats/safetensors-writer.js';
import { BGE_VOCAB, fill, prng, unigramVocab } from './make-random-encoder.js';

export type T5Arch = 't5' | 'flan-t5';
export type T5Size = 'tiny' | 'small' | 'base';

export interface T5Shape {
  dim: number;
  encoderLayers: number;
  decoderLayers: number;
  nHeads: number;
  /** d_kv: the head width (T5 does not tie it to dim / heads). */
  headDim: number;
  ffnDim: number;
  buckets: number;
  contextLength: number;
  vocabSize: number;
}

export const T5_CONFIGS: Record<T5Size, T5Shape> = {
  tiny: { dim: 64, encoderLayers: 3, decoderLayers: 2, nHeads: 4, headDim: 16, ffnDim: 128, buckets: 32, contextLength: 512, vocabSize: 4096 },
  // t5-small (60M)
  small: { dim: 512, encoderLayers: 6, decoderLayers: 6, nHeads: 8, headDim: 64, ffnDim: 2048, buckets: 32, contextLength: 512, vocabSize: 32128 },
  // flan-t5-base (250M)
  base: { dim: 768, encoderLayers: 12, decoderLayers: 12, nHeads: 12, headDim: 64, ffnDim: 2048, buckets: 32, contextLength: 512, vocabSize: 32128 },
};

export interface MakeT5Options {
  arch: T5Arch;
  size: T5Size;
  type?: 'f32' | 'f16';
  seed?: number;
  gguf?: string;
  hf?: string;
}

/** SentencePiece piece types as gguf writes them (tokenizer.ggml.token_type). */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const UNUSED = 5;
const PAD_SLACK = 128; // t5's config vocab (32128) is 128 over its 32000 pieces

/** T5's vocabulary layout: <pad> </s> <unk>, then Unigram pieces, then `[PAD<id>]` filler up to `size`. */
export function t5Vocab(size: number): { tokens: string[]; scores: Float32Array; types: Int32Array; pieces: number } {
  if (!existsSync(BGE_VOCAB)) throw new Error(`the bge vocabulary (the source of the random Unigram pieces) is missing: ${BGE_VOCAB}`);
  const words = readGGUF(BGE_VOCAB).metadata.get('tokenizer.ggml.tokens') as string[];
  const u = unigramVocab(words); // <s> <pad> </s> <unk> first: dropped for T5's own specials
  const pieces = Math.min(size - PAD_SLACK, u.tokens.length - 4 + 3);
  const tokens = ['<pad>', '</s>', '<unk>'];
  const scores = new Float32Array(size);
  const types = new Int32Array(size);
  types.set([CONTROL, CONTROL, UNKNOWN]);
  for (let i = 3; i < pieces; i++) {
    tokens.push(u.tokens[i + 1]!);
    scores[i] = u.scores[i + 1]!;
    types[i] = NORMAL;
  }
  for (let i = pieces; i < size; i++) {
    tokens.push(`[PAD${i}]`);
    scores[i] = -10000;
    types[i] = UNUSED;
  }
  return { tokens, scores, types, pieces };
}

interface T5Tensor {
  gguf: string;
  hf: string;
  shape: number[];
  std: number;
  mean: number;
}

/** Every tensor of the checkpoint, with its GGUF and Hugging Face names (HF layout [out, in]). */
function t5Tensors(arch: T5Arch, c: T5Shape): T5Tensor[] {
  const out: T5Tensor[] = [];
  const t = (gguf: string, hf: string, shape: number[], std: number, mean = 0) => out.push({ gguf, hf, shape, std, mean });
  const inner = c.nHeads * c.headDim;
  const w = (fanIn: number) => 1 / Math.sqrt(fanIn);
  const gated = arch === 'flan-t5';
  // small next to the blocks' outputs: with a tied head, a large embedding makes every step predict its own input token
  t('token_embd.weight', 'shared.weight', [c.vocabSize, c.dim], 0.1);
  for (const stack of ['encoder', 'decoder'] as const) {
    const g = stack === 'encoder' ? 'enc' : 'dec';
    const n = stack === 'encoder' ? c.encoderLayers : c.decoderLayers;
    for (let i = 0; i < n; i++) {
      const hp = `${stack}.block.${i}.layer`;
      const gp = `${g}.blk.${i}`;
      t(`${gp}.attn_norm.weight`, `${hp}.0.layer_norm.weight`, [c.dim], 0.1, 1);
      for (const x of ['q', 'k', 'v'] as const) t(`${gp}.attn_${x}.weight`, `${hp}.0.SelfAttention.${x}.weight`, [inner, c.dim], w(c.dim));
      t(`${gp}.attn_o.weight`, `${hp}.0.SelfAttention.o.weight`, [c.dim, inner], w(inner));
      if (i === 0) t(`${gp}.attn_rel_b.weight`, `${hp}.0.SelfAttention.relative_attention_bias.weight`, [c.buckets, c.nHeads], 0.5);
      let ffn = 1;
      if (stack === 'decoder') {
        t(`${gp}.cross_attn_norm.weight`, `${hp}.1.layer_norm.weight`, [c.dim], 0.1, 1);
        for (const x of ['q', 'k', 'v'] as const) t(`${gp}.cross_attn_${x}.weight`, `${hp}.1.EncDecAttention.${x}.weight`, [inner, c.dim], w(c.dim));
        t(`${gp}.cross_attn_o.weight`, `${hp}.1.EncDecAttention.o.weight`, [c.dim, inner], w(inner));
        ffn = 2;
      }
      t(`${gp}.ffn_norm.weight`, `${hp}.${ffn}.layer_norm.weight`, [c.dim], 0.1, 1);
      if (gated) {
        t(`${gp}.ffn_gate.weight`, `${hp}.${ffn}.DenseReluDense.wi_0.weight`, [c.ffnDim, c.dim], w(c.dim));
        t(`${gp}.ffn_up.weight`, `${hp}.${ffn}.DenseReluDense.wi_1.weight`, [c.ffnDim, c.dim], w(c.dim));
      } else {
        t(`${gp}.ffn_up.weight`, `${hp}.${ffn}.DenseReluDense.wi.weight`, [c.ffnDim, c.dim], w(c.dim));
      }
      t(`${gp}.ffn_down.weight`, `${hp}.${ffn}.DenseReluDense.wo.weight`, [c.dim, c.ffnDim], w(c.ffnDim));
    }
    t(`${g}.output_norm.weight`, `${stack}.final_layer_norm.weight`, [c.dim], 0.1, 1);
  }
  if (gated) t('output.weight', 'lm_head.weight', [c.vocabSize, c.dim], w(c.dim));
  return out;
}

/** The Hugging Face config.json of the checkpoint (T5Config's keys). */
function hfConfig(arch: T5Arch, c: T5Shape, dtype: string): Record<string, unknown> {
  const gated = arch === 'flan-t5';
  return {
    architectures: ['T5ForConditionalGeneration'], model_type: 't5', d_model: c.dim, d_kv: c.headDim, d_ff: c.ffnDim,
    num_layers: c.encoderLayers, num_decoder_layers: c.decoderLayers, num_heads: c.nHeads,
    relative_attention_num_buckets: c.buckets, relative_attention_max_distance: 128, n_positions: c.contextLength,
    layer_norm_epsilon: 1e-6, feed_forward_proj: gated ? 'gated-gelu' : 'relu', is_gated_act: gated, dense_act_fn: gated ? 'gelu_new' : 'relu',
    tie_word_embeddings: !gated, vocab_size: c.vocabSize, pad_token_id: 0, eos_token_id: 1, decoder_start_token_id: 0,
    is_encoder_decoder: true, torch_dtype: dtype,
  };
}

/** tokenizer.json (Unigram, Metaspace, </s> appended) for the same vocabulary. */
function tokenizerJson(v: ReturnType<typeof t5Vocab>): string {
  const vocab = v.tokens.map((t, i) => [t, v.scores[i]!]);
  return JSON.stringify({
    version: '1.0',
    added_tokens: [0, 1, 2].map((id) => ({ id, content: v.tokens[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 2, vocab, byte_fallback: false },
  });
}

export function makeRandomT5(o: MakeT5Options): void {
  const c = T5_CONFIGS[o.size];
  if (!c) throw new Error(`unknown t5 --size ${o.size} (tiny, small, base)`);
  if (o.arch !== 't5' && o.arch !== 'flan-t5') throw new Error(`unknown T5 --arch ${String(o.arch)} (t5, flan-t5)`);
  if (!o.gguf && !o.hf) throw new Error('nothing to write: give --gguf FILE and/or --hf DIR');
  const seed = o.seed ?? 1;
  const f16 = o.type === 'f16';
  const vocab = t5Vocab(c.vocabSize);
  const tensors = t5Tensors(o.arch, c);
  // a matrix in f16 when asked (the converter keeps 1-D norms and the bias tables in f32)
  const half = (t: T5Tensor) => f16 && t.shape.length === 2 && !t.gguf.includes('attn_rel_b');
  const values = (t: T5Tensor, i: number) => fill(t.shape.reduce((a, b) => a * b, 1), prng(seed, i), t.std, t.mean);
  if (o.gguf) {
    const name = `random-${o.arch}-${o.size}-seed${seed}`;
    const metadata: [string, GGUFWriteValue][] = [
      ['general.architecture', 't5'],
      ['general.name', name],
      ['t5.context_length', u32(c.contextLength)],
      ['t5.embedding_length', u32(c.dim)],
      ['t5.feed_forward_length', u32(c.ffnDim)],
      ['t5.block_count', u32(c.encoderLayers)],
      ['t5.decoder_block_count', u32(c.decoderLayers)],
      ['t5.attention.head_count', u32(c.nHeads)],
      ['t5.attention.key_length', u32(c.headDim)],
      ['t5.attention.value_length', u32(c.headDim)],
      ['t5.attention.layer_norm_epsilon', f32(1e-6)],
      ['t5.attention.relative_buckets_count', u32(c.buckets)],
      ['t5.attention.layer_norm_rms_epsilon', f32(1e-6)],
      ['t5.decoder_start_token_id', u32(0)],
      ['general.file_type', u32(f16 ? 1 : 0)],
      ['tokenizer.ggml.model', 't5'],
      ['tokenizer.ggml.pre', 'default'],
      ['tokenizer.ggml.tokens', vocab.tokens],
      ['tokenizer.ggml.scores', vocab.scores],
      ['tokenizer.ggml.token_type', vocab.types],
      ['tokenizer.ggml.add_space_prefix', true],
      ['tokenizer.ggml.remove_extra_whitespaces', true],
      ['tokenizer.ggml.eos_token_id', u32(1)],
      ['tokenizer.ggml.unknown_token_id', u32(2)],
      ['tokenizer.ggml.padding_token_id', u32(0)],
      ['tokenizer.ggml.add_bos_token', false],
      ['tokenizer.ggml.add_eos_token', true],
    ];
    const out: GGUFWriteTensor[] = tensors.map((t, i) => ({
      name: t.gguf,
      type: half(t) ? 'F16' : 'F32',
      dims: [...t.shape].reverse(),
      data: () => (half(t) ? f32ArrayToF16(values(t, i)) : values(t, i)),
    }));
    writeGGUF(o.gguf, { metadata, tensors: out });
  }
  if (o.hf) {
    mkdirSync(o.hf, { recursive: true });
    writeFileSync(join(o.hf, 'config.json'), JSON.stringify(hfConfig(o.arch, c, f16 ? 'float16' : 'float32'), null, 2));
    writeFileSync(join(o.hf, 'tokenizer.json'), tokenizerJson(vocab));
    const st: SafetensorsWriteTensor[] = tensors.map((t, i) => ({
      name: t.hf,
      dtype: half(t) ? 'F16' : 'F32',
      shape: t.shape,
      data: () => (half(t) ? f32ArrayToF16(values(t, i)) : values(t, i)),
    }));
    writeSafetensors(join(o.hf, 'model.safetensors'), st);
  }
}
