/**
 * The token rows of one forward step, grouped into sequences. Every op but attention treats rows
 * independently, so one step can carry a single sequence's prompt chunk (generate), or decode rows
 * and prompt chunks of many sequences at once (the batching server): the token-parallel ops run
 * once over all M rows, and attention runs per sequence against that sequence's KV cache.
 */
import type { KVCache } from './kv-cache.js';

export interface StepSequence {
  /** First row of this sequence in the step. */
  offset: number;
  /** Its rows (tokens), at positions [pos, pos + T). */
  T: number;
  pos: number;
  cache: KVCache;
}

export interface Step {
  /** Rows through the token-parallel ops: N, or N + 1 when a lone row is padded with a copy of row 0. */
  M: number;
  /** Real rows (the sum of the sequences' T). */
  N: number;
  /** Token id of each of the M rows. */
  tokens: Int32Array;
  /** Absolute position of each of the M rows. */
  positions: Int32Array;
  sequences: StepSequence[];
  /**
   * The rows whose final residual the caller reads (ascending, each < M), or absent for all M rows.
   * The last block then runs its MLP on those rows only, and runStep returns just them, packed:
   * [outputRows.length, dim] (llama.cpp skips the same work: a prompt needs only its last row's logits).
   */
  outputRows?: Int32Array | null;
}

/** A step of one sequence: T rows at positions [pos, pos + T) (tokens left zero unless given). */
export function sequenceStep(T: number, pos: number, cache: KVCache, tokens: Int32Array = new Int32Array(T)): Step {
  const positions = new Int32Array(T);
  for (let i = 0; i < T; i++) positions[i] = pos + i;
  return { M: T, N: T, tokens, positions, sequences: [{ offset: 0, T, pos, cache }] };
}
