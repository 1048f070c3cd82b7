/**
 * The weights of a decoder in one normalized shape, filled by the per-family loaders
 * (llama.ts, gpt2.ts) from whatever names and layouts the file used. Matrices are `[out, in]`.
 */
import type { Weights } from '../backend/types.js';
import { Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from '../backend/types.js';
import type { ModelFile } from '../formats/model-file.js';

export interface NormWeights {
  weight: Float32Array;
  bias: Float32Array | null;
}

export interface LinearWeights {
  weight: Weights;
  bias: Float32Array | null;
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

export interface TransformerWeights {
  tokenEmbedding: Weights;
  /** Learned absolute positions (GPT-2), `[contextLength, dim]`. */
  positionEmbedding: Weights | null;
  layers: LayerWeights[];
  finalNorm: NormWeights;
  /** `[vocab, dim]`; the token embedding itself when the head is tied. */
  lmHead: Weights;
}

/** `<name>.weight` and, when the file has one, `<name>.bias`. */
export function linear(mf: ModelFile, name: string): LinearWeights {
  return { weight: mf.weights(`${name}.weight`), bias: mf.has(`${name}.bias`) ? mf.vector(`${name}.bias`) : null };
}

export function norm(mf: ModelFile, name: string): NormWeights {
  return { weight: mf.vector(`${name}.weight`), bias: mf.has(`${name}.bias`) ? mf.vector(`${name}.bias`) : null };
}

/** Rows [r0, r1) of a weight matrix, without copying (rows are contiguous in every dtype). */
export function sliceRows(w: Weights, r0: number, r1: number): Weights {
  const per = w.dtype === 'q8_0' ? (w.cols / Q8_0_BLOCK) * Q8_0_BLOCK_BYTES : w.cols;
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
