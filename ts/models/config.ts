/**
 * The hyperparameters and block recipe every supported decoder is described by, whatever file it
 * came from. A family's file in the architecture table (./architectures.ts) fills this from GGUF
 * metadata or a Hugging Face config.json; the Transformer builds its layers from it alone.
 */
import type { RopeOptions } from '../backend/types.js';
import type { RopeScaling } from '../layers/rope-table.js';

/** The families of the architecture table (one file each under ts/models/). Declared only here. */
export type ModelFamily = 'llama' | 'qwen2' | 'qwen3' | 'qwen3moe' | 'smollm3' | 'mistral3' | 'gemma2' | 'gemma3' | 'gemma4' | 'phi3' | 'gpt2' | 'qwen35' | 'qwen35moe' | 'qwen3next' | 'bert' | 'nomic-bert' | 't5' | 't5encoder';

/**
 * How an embedding model turns its per-token outputs into one vector per text (llama.cpp's
 * pooling types): the mean over the tokens, the first ([CLS]) or the last token's output, or a
 * classification head over the first token (`rank`: cross-encoder rerankers).
 */
export type Pooling = 'none' | 'mean' | 'cls' | 'last' | 'rank';

export interface TransformerConfig {
  /** Which table entry built it. */
  family: ModelFamily;
  /** The architecture name as the file gave it (e.g. 'llama', 'qwen2', 'LlamaForCausalLM', 'llama2.c'). */
  architecture: string;
  vocabSize: number;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Feed-forward width. */
  hiddenDim: number;
  /** Longest sequence the model was trained for. */
  contextLength: number;
  norm: 'rmsnorm' | 'layernorm';
  normEps: number;
  /**
   * swiglu: down(silu(gate) ⊙ up); geglu: down(gelu_tanh(gate) ⊙ up) (Gemma, Flan-T5's gated-GELU);
   * gelu: down(gelu(up)); relu: down(relu(up)) (T5 v1.0).
   */
  mlp: 'swiglu' | 'geglu' | 'gelu' | 'relu';
  /** Rotary embeddings, or null for learned absolute positions (GPT-2). */
  rope: RopeOptions | null;
  /** Q/K/V projections carry biases (Qwen2, GPT-2). */
  qkvBias: boolean;
  /** Output projection and MLP carry biases (GPT-2). */
  outBias: boolean;
  /** RoPE frequency scaling (Llama 3 factors, linear, YaRN); absent = plain RoPE. */
  ropeScaling?: RopeScaling;
  /**
   * LongRoPE (Phi-3): per-pair frequency divisors for a context up to `originalContext` (short) or
   * beyond it (long; the Transformer uses them when contextLength exceeds originalContext), and
   * the cos/sin magnitude.
   */
  longRope?: { short: Float32Array; long: Float32Array; originalContext: number; attnFactor: number };
  /**
   * Position-dependent query scaling ("Llama 4 attention temperature", Ministral 3): q at position
   * p is multiplied by 1 + beta · ln(⌊p / floor⌋ + 1).
   */
  attnTemperature?: { beta: number; floor: number };
  /**
   * Sliding-window attention: `size` positions (the query's own included), in the layers marked
   * true in `layers` (all layers when absent). `key` names where the file declared it, for errors.
   */
  slidingWindow?: { size: number; layers?: readonly boolean[]; key: string };
  /** Layers that attend without RoPE (SmolLM3's NoPE layers), by layer index: true = no RoPE. */
  noRopeLayers?: readonly boolean[];
  /** Per-head RMSNorm of q and k before RoPE (Qwen3; tensors attn_q_norm / attn_k_norm). */
  qkNorm?: boolean;
  /** Sparse mixture-of-experts FFN in every layer (expert_count, expert_used_count, expert width). */
  moe?: { experts: number; used: number; hiddenDim: number };
  /** Gemma 4 26B-A4B: routed experts beside the dense MLP, run by the family's own feed-forward (not `moe`). */
  sideExperts?: { experts: number; used: number; hiddenDim: number };
  /** Token embeddings are multiplied by this before the first block (Gemma: √dim). */
  embedScale?: number;
  /** Attention score scale; default 1/√headDim (Gemma 2/3: query_pre_attn_scalar^-½). */
  attnScale?: number;
  /** Attention logit soft-capping: score → cap · tanh(score / cap) (Gemma 2). */
  attnSoftcap?: number;
  /** Final logit soft-capping: logit → cap · tanh(logit / cap) (Gemma 2). */
  finalSoftcap?: number;
  /** RoPE base of the sliding-window layers, which then rotate without RoPE scaling (Gemma 3's local layers). */
  swaRopeTheta?: number;
  /** Rotated dims of the sliding-window layers when they differ from `rope.dims` (Gemma 4). */
  swaRopeDims?: number;
  /**
   * RMSNorm of each block's attention output and MLP output before they join the residual stream
   * (Gemma 2/3: post_attention_norm, post_ffw_norm).
   */
  postNorms?: boolean;
  /**
   * KV cache rows that differ by layer (Gemma 4): each layer's KV heads and head size, and the
   * layers that read an earlier layer's K/V instead of keeping their own (`sharedFrom[l] = j`).
   */
  kvLayout?: { shapes: readonly { kvHeads: number; headDim: number }[]; sharedFrom: readonly (number | null)[] };
  /** Feed-forward width per layer when it varies (Gemma 4's double-wide MLP in KV-shared layers). */
  layerHiddenDims?: readonly number[];
  /** Gemma 4: values per layer of the per-layer inputs (embedding_length_per_layer_input). */
  perLayerInput?: number;
  /** Special tokens from the model file, when it names them. */
  bosTokenId: number | null;
  eosTokenIds: number[];
  /**
   * Encoders (bidirectional attention, an embedding model rather than a language model); absent
   * for decoders.
   */
  encoder?: EncoderSpec;
  /** Encoder-decoders (T5): the encoder is the `nLayers` stack above; absent for everything else. */
  seq2seq?: Seq2SeqSpec;
}

/**
 * What an encoder-decoder (T5 family) adds to the shared hyperparameters: the decoder stack's depth,
 * T5's relative position buckets (added to the attention scores; no absolute positions, no RoPE),
 * the token the decoder starts from, and the LM head's form.
 */
export interface Seq2SeqSpec {
  /** Decoder layers (GGUF t5.decoder_block_count, HF num_decoder_layers); the encoder has nLayers. */
  decoderLayers: number;
  /** Relative position buckets (t5.attention.relative_buckets_count, relative_attention_num_buckets). */
  buckets: number;
  /** Distance from which buckets stop growing (HF relative_attention_max_distance; llama.cpp fixes 128). */
  maxDistance: number;
  /** First decoder input (t5.decoder_start_token_id; T5: the pad id 0). */
  decoderStartTokenId: number;
  /**
   * The LM head is the shared token embedding: T5 then scales the decoder output by dim^-½ before
   * it (Hugging Face's T5; llama.cpp omits this factor, which changes no argmax).
   */
  tiedHead: boolean;
  /** No decoder in the file (t5encoder: an encoder-only T5 for embeddings). */
  encoderOnly: boolean;
}

export interface EncoderSpec {
  /** Attention masks later positions (decoder embedders such as Qwen3-Embedding) or not (BERT). */
  causal: boolean;
  /** Post-norm blocks (BERT: x = norm(x + attn(x)); x = norm(x + mlp(x))) rather than pre-norm. */
  postNorm: boolean;
  /** Segment (token-type) embeddings in the file; llama.cpp adds row 0 (sentence A) to every token. */
  tokenTypes: number;
  /** Pooling the file declares, null when it does not say (then the caller must pass one). */
  pooling: Pooling | null;
  /** Output labels of the classification head (rerankers), when the file lists them. */
  classifierLabels: string[];
  /**
   * Row of the learned position table for position 0: RoBERTa / XLM-RoBERTa checkpoints start at
   * pad_token_id + 1 = 2 (llama.cpp's converter cuts those rows off, so GGUF files use 0).
   */
  positionOffset: number;
  /**
   * Decoder rerankers (llama.cpp's qwen3 `rank` pooling, Qwen3-Reranker): the head reads the LAST
   * token (not the first), has no dense + tanh layer, and its outputs (yes/no rows of the LM head)
   * go through a softmax; the score is then label 0's log-odds (so that a sigmoid of it is
   * llama.cpp's probability, as for cross-encoder logits). Absent: BERT-style heads.
   */
  decoderRank?: boolean;
}

/** Throws a RangeError naming the first field that is not a sane positive integer, or inconsistent. */
export function validateConfig(c: TransformerConfig, source: string): void {
  for (const key of ['vocabSize', 'dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'hiddenDim', 'contextLength'] as const) {
    const v = c[key];
    if (!Number.isInteger(v) || v < 1 || v > 2 ** 31) throw new RangeError(`tensorloom: ${source}: ${key} must be a positive integer, got ${v}`);
  }
  if (c.nHeads % c.nKvHeads !== 0) throw new RangeError(`tensorloom: ${source}: ${c.nHeads} heads are not a multiple of ${c.nKvHeads} KV heads`);
  if (!(c.normEps > 0 && c.normEps < 1)) throw new RangeError(`tensorloom: ${source}: norm epsilon must be in (0, 1), got ${c.normEps}`);
  const w = c.slidingWindow;
  if (w) {
    if (!Number.isInteger(w.size) || w.size < 1) throw new RangeError(`tensorloom: ${source}: ${w.key} must be a positive integer, got ${w.size}`);
    if (w.size > c.contextLength) throw new RangeError(`tensorloom: ${source}: ${w.key} (${w.size}) is larger than the context length (${c.contextLength})`);
    if (w.layers && w.layers.length !== c.nLayers) throw new RangeError(`tensorloom: ${source}: ${w.key}: ${w.layers.length} layer flags for ${c.nLayers} layers`);
  }
  if (c.rope && (c.rope.dims ?? c.headDim) % 2 !== 0) throw new RangeError(`tensorloom: ${source}: RoPE dims must be even, got ${c.rope.dims}`);
}
