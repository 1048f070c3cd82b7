/**
 * The weights of a decoder in one normalized shape, filled by the per-family loaders
 * (llama.ts, gpt2.ts) from whatever names and layouts the file used. Matrices are `[out, in]`.
 */
import type { Backend, Weights } from '../backend/types.js';
import { rowLength } from '../backend/weight-types.js';
import type { FeedForward, TokenMixer } from '../layers/token-mixer.js';
import type { PerLayerInput } from '../layers/per-layer-input.js';
import type { ModelFile } from '../formats/model-file.js';

export interface NormWeights {
  weight: Float32Array;
  bias: Float32Array | null;
  /** The file's name for it (`blk.0.attn_norm`), so shape errors can name the tensor. */
  name?: string;
}

export interface LinearWeights {
  weight: Weights;
  bias: Float32Array | null;
  /** The file's name for it (`blk.0.attn_q`), so shape errors can name the tensor. */
  name?: string;
}

export interface LayerWeights {
  attnNorm: NormWeights;
  /** q, k, v as one matrix (rows [q | k | v]) when the file stores them fused (GPT-2). */
  qkv?: LinearWeights | null;
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  o: LinearWeights;
  /** Per-head q/k RMSNorm weights [headDim] (Qwen3). */
  qNorm?: NormWeights | null;
  kNorm?: NormWeights | null;
  mlpNorm: NormWeights;
  /** Norms of the attention and MLP outputs before the residual add (Gemma 2/3). */
  postAttnNorm?: NormWeights | null;
  postMlpNorm?: NormWeights | null;
  /** gate and up as one matrix, rows [gate | up], when the file stores them fused (Phi-3's ffn_up). */
  gateUp?: LinearWeights | null;
  /** SwiGLU / GeGLU only. */
  gate: LinearWeights | null;
  /** The dense MLP; null in a mixture-of-experts layer. */
  up: LinearWeights | null;
  down: LinearWeights | null;
  /** Sparse mixture of experts (Mixtral, Qwen3-MoE): router [experts, dim] and per-expert SwiGLU projections. */
  experts?: ExpertWeights | null;
}

export interface ExpertWeights {
  router: LinearWeights;
  gate: LinearWeights[];
  up: LinearWeights[];
  down: LinearWeights[];
}

/**
 * A layer whose token mixer its family builds itself: the recurrent (Gated DeltaNet) and gated
 * full-attention layers of hybrid models (Qwen3.5). The MLP half is the standard one.
 */
export type MixerLayerWeights = Omit<LayerWeights, 'qkv' | 'q' | 'k' | 'v' | 'o'> & {
  mixer: (backend: Backend) => TokenMixer;
  /** Wraps the feed-forward the Transformer built (e.g. adds Qwen3.5-MoE's gated shared expert). */
  wrapFfn?: (backend: Backend, ffn: FeedForward) => FeedForward;
};

export interface TransformerWeights {
  tokenEmbedding: Weights;
  /** Learned absolute positions (GPT-2), `[contextLength, dim]`. */
  positionEmbedding: Weights | null;
  layers: (LayerWeights | MixerLayerWeights)[];
  finalNorm: NormWeights;
  /** `[vocab, dim]`; the token embedding itself when the head is tied. */
  lmHead: Weights;
  /** Gemma 4: builds the per-layer inputs, which end every block (see ts/layers/per-layer-input.ts). */
  perLayerInput?: ((backend: Backend) => PerLayerInput) | null;
}

/** An encoder's weights (BERT family): post-norm blocks reuse LayerWeights (attnNorm after attention, mlpNorm after the MLP). */
export interface EncoderWeights {
  tokenEmbedding: Weights;
  /** Learned absolute positions, or null with RoPE. */
  positionEmbedding: Weights | null;
  /** Segment embeddings `[types, dim]`, or null. */
  tokenTypeEmbedding: Weights | null;
  /** LayerNorm right after the embeddings (BERT), or null. */
  embeddingNorm: NormWeights | null;
  layers: LayerWeights[];
  /** Final norm of pre-norm models, or null. */
  finalNorm: NormWeights | null;
  /** Classification head for `rank` pooling: dense + tanh (`cls`), then the output projection (`cls.output`). */
  classifier: { dense: LinearWeights | null; out: LinearWeights | null } | null;
}

/** `<name>.weight` and, when the file has one, `<name>.bias`. */
export function linear(mf: ModelFile, name: string): LinearWeights {
  return { weight: mf.weights(`${name}.weight`), bias: mf.has(`${name}.bias`) ? mf.vector(`${name}.bias`) : null, name };
}

export function norm(mf: ModelFile, name: string): NormWeights {
  return { weight: mf.vector(`${name}.weight`), bias: mf.has(`${name}.bias`) ? mf.vector(`${name}.bias`) : null, name };
}

/** Rows [r0, r1) of a weight matrix, without copying (rows are contiguous in every dtype). */
export function sliceRows(w: Weights, r0: number, r1: number): Weights {
  const per = rowLength(w.dtype, w.cols);
  return { dtype: w.dtype, rows: r1 - r0, cols: w.cols, data: w.data.subarray(r0 * per, r1 * per) };
}

/**
 * One matrix whose rows are the given matrices' rows in order (and the biases likewise; a missing
 * bias counts as zeros). Copies; every part must have the same dtype and width.
 */
export function concatRows(parts: readonly LinearWeights[]): LinearWeights {
  const first = parts[0]!.weight;
  for (const p of parts) {
    if (p.weight.dtype !== first.dtype || p.weight.cols !== first.cols) throw new RangeError('tensorloom: concatRows needs matrices of one dtype and width');
  }
  const rows = parts.reduce((n, p) => n + p.weight.rows, 0);
  const total = parts.reduce((n, p) => n + p.weight.data.length, 0);
  const data = new (first.data.constructor as new (n: number) => Float32Array | Uint16Array | Uint8Array)(total);
  let at = 0;
  for (const p of parts) {
    data.set(p.weight.data, at);
    at += p.weight.data.length;
  }
  let bias: Float32Array | null = null;
  if (parts.some((p) => p.bias)) {
    bias = new Float32Array(rows);
    let r = 0;
    for (const p of parts) {
      if (p.bias) bias.set(p.bias, r);
      r += p.weight.rows;
    }
  }
  return { weight: { dtype: first.dtype, rows, cols: first.cols, data }, bias };
}

/** Bytes of a weight matrix. */
export function weightBytes(w: Weights): number {
  return w.data.byteLength;
}
