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
  q: LinearWeights;
  k: LinearWeights;
  v: LinearWeights;
  o: LinearWeights;
  mlpNorm: NormWeights;
  /** SwiGLU only. */
  gate: LinearWeights | null;
  up: LinearWeights;
  down: LinearWeights;
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
