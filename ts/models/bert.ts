/**
 * bert (GGUF `bert`, HF BertModel / BertForSequenceClassification: BERT, MiniLM, bge, e5; and
 * XLM-RoBERTa — multilingual e5, bge-m3, bge-reranker — which llama.cpp also runs as `bert`, with a
 * SentencePiece Unigram (`t5`) vocabulary and the RoBERTa position offset cut off): an
 * encoder. Token + segment (row 0, "sentence A", as llama.cpp) + learned position embeddings,
 * then a LayerNorm; post-norm blocks (x = LN(x + attn(x)); x = LN(x + mlp(x))) with
 * bidirectional attention, biases everywhere and a GELU MLP (tanh approximation, as ggml computes
 * it). The pooling comes from `bert.pooling_type` (GGUF) or sentence-transformers'
 * `1_Pooling/config.json` (HF); rerankers carry a classification head (`cls`, `cls.output`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../formats/byte-source.js';
import { metaNumber, metaStringArray } from '../formats/gguf.js';
import { u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile, TensorRename } from '../formats/model-file.js';
import { configFromGGUF, configFromHF, standardGGUFMetadata, type Architecture, type Recipe } from './architecture.js';
import type { Pooling, TransformerConfig } from './config.js';
import type { EncoderWeights, LayerWeights } from './weights.js';
import { linear, norm } from './weights.js';

const RECIPE: Recipe = { norm: 'layernorm', mlp: 'gelu', positions: 'learned', ggufRopeLayout: 'interleaved' };

/** llama.cpp's LLAMA_POOLING_TYPE numbering (GGUF `<arch>.pooling_type`). */
export const POOLING_TYPES: readonly Pooling[] = ['none', 'mean', 'cls', 'last', 'rank'];

export function poolingFromGGUF(mf: ModelFile): Pooling | null {
  const v = metaNumber(mf.gguf!, `${mf.architecture}.pooling_type`);
  if (v === undefined) return null;
  const p = POOLING_TYPES[v];
  if (p === undefined) throw new FormatError(`${mf.path}: ${mf.architecture}.pooling_type ${v} is not a known pooling type (0-4)`);
  return p;
}

/** sentence-transformers' pooling (1_Pooling/config.json next to config.json), or null. */
export function poolingFromHF(dir: string): Pooling | null {
  const p = join(dir, '1_Pooling', 'config.json');
  if (!existsSync(p)) return null;
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(`${p} is not valid JSON: ${(err as Error).message}`);
  }
  if (cfg.pooling_mode_cls_token === true) return 'cls';
  if (cfg.pooling_mode_mean_tokens === true) return 'mean';
  if (cfg.pooling_mode_lasttoken === true) return 'last';
  return null;
}

function encoderConfig(mf: ModelFile): TransformerConfig {
  if (mf.gguf) {
    const c = configFromGGUF(mf, 'bert', RECIPE);
    const labels = metaStringArray(mf.gguf, `${mf.architecture}.classifier.output_labels`) ?? [];
    const types = metaNumber(mf.gguf, 'tokenizer.ggml.token_type_count') ?? (mf.has('token_types.weight') ? mf.tensors.get('token_types.weight')!.shape[0]! : 0);
    return { ...c, encoder: { causal: false, postNorm: true, tokenTypes: types, pooling: poolingFromGGUF(mf), classifierLabels: labels, positionOffset: 0 } };
  }
  const c = configFromHF(mf, 'bert', RECIPE);
  const h = mf.hfConfig ?? {};
  const id2label = h.id2label && typeof h.id2label === 'object' ? Object.values(h.id2label as Record<string, unknown>).map(String) : [];
  const isClassifier = Array.isArray(h.architectures) && String(h.architectures[0]).endsWith('ForSequenceClassification');
  const types = typeof h.type_vocab_size === 'number' ? h.type_vocab_size : 0;
  // RoBERTa-style position ids start after the padding id; the table keeps those rows
  const roberta = h.model_type === 'roberta' || h.model_type === 'xlm-roberta' || /Roberta/.test(String(Array.isArray(h.architectures) ? h.architectures[0] : ''));
  const positionOffset = roberta ? (typeof h.pad_token_id === 'number' ? h.pad_token_id : 1) + 1 : 0;
  return {
    ...c,
    contextLength: c.contextLength - positionOffset,
    normEps: typeof h.layer_norm_eps === 'number' ? h.layer_norm_eps : 1e-12,
    encoder: { causal: false, postNorm: true, tokenTypes: types, pooling: isClassifier ? 'rank' : poolingFromHF(mf.path), classifierLabels: isClassifier ? id2label : [], positionOffset },
  };
}

export const bert: Architecture = {
  family: 'bert',
  gguf: ['bert'],
  huggingface: ['BertModel', 'BertForMaskedLM', 'BertForSequenceClassification', 'XLMRobertaModel', 'XLMRobertaForSequenceClassification', 'RobertaModel', 'bert', 'xlm-roberta', 'roberta'],
  ggufName: 'bert',
  permuteQK: false,
  config: encoderConfig,
  hfTensorName,
  weights() {
    throw new Error('tensorloom: bert is an encoder (an embedding model): use embed() or rank(), not generate()');
  },
  encoderWeights(mf, c): EncoderWeights {
    const layers: LayerWeights[] = [];
    for (let i = 0; i < c.nLayers; i++) {
      const p = `blk.${i}`;
      layers.push({
        attnNorm: norm(mf, `${p}.attn_output_norm`),
        q: linear(mf, `${p}.attn_q`),
        k: linear(mf, `${p}.attn_k`),
        v: linear(mf, `${p}.attn_v`),
        o: linear(mf, `${p}.attn_output`),
        mlpNorm: norm(mf, `${p}.layer_output_norm`),
        gate: null,
        up: linear(mf, `${p}.ffn_up`),
        down: linear(mf, `${p}.ffn_down`),
      });
    }
    const has = (n: string) => mf.has(`${n}.weight`);
    return {
      tokenEmbedding: mf.weights('token_embd.weight'),
      positionEmbedding: mf.weights('position_embd.weight'),
      tokenTypeEmbedding: has('token_types') ? mf.weights('token_types.weight') : null,
      embeddingNorm: norm(mf, 'token_embd_norm'),
      layers,
      finalNorm: null,
      classifier: has('cls') || has('cls.output') ? { dense: has('cls') ? linear(mf, 'cls') : null, out: has('cls.output') ? linear(mf, 'cls.output') : null } : null,
    };
  },
  ggufMetadata(c): [string, GGUFWriteValue][] {
    const meta = standardGGUFMetadata('bert', c);
    meta.push(['bert.attention.causal', false]);
    const pooling = c.encoder?.pooling;
    if (pooling) meta.push(['bert.pooling_type', u32(POOLING_TYPES.indexOf(pooling))]);
    return meta;
  },
};

function hfTensorName(name: string): TensorRename | null {
  let n = name.replace(/^(bert|roberta)\./, '');
  n = n.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  const fixed: Record<string, string> = {
    'embeddings.word_embeddings.weight': 'token_embd.weight',
    'embeddings.position_embeddings.weight': 'position_embd.weight',
    'embeddings.token_type_embeddings.weight': 'token_types.weight',
    'embeddings.LayerNorm.weight': 'token_embd_norm.weight',
    'embeddings.LayerNorm.bias': 'token_embd_norm.bias',
    'classifier.weight': 'cls.output.weight',
    'classifier.bias': 'cls.output.bias',
    'classifier.dense.weight': 'cls.weight',
    'classifier.dense.bias': 'cls.bias',
    'classifier.out_proj.weight': 'cls.output.weight',
    'classifier.out_proj.bias': 'cls.output.bias',
  };
  if (fixed[n]) return { name: fixed[n]! };
  const m = /^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
  if (!m) return null; // pooler, MLM head, position_ids buffers
  const parts: Record<string, string> = {
    'attention.self.query': 'attn_q', 'attention.self.key': 'attn_k', 'attention.self.value': 'attn_v',
    'attention.output.dense': 'attn_output', 'attention.output.LayerNorm': 'attn_output_norm',
    'intermediate.dense': 'ffn_up', 'output.dense': 'ffn_down', 'output.LayerNorm': 'layer_output_norm',
  };
  const part = parts[m[2]!];
  return part ? { name: `blk.${m[1]}.${part}.${m[3]}` } : null;
}
