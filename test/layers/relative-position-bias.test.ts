/**
 * RelativePositionBias.fill (T5's position bias laid out for the attention kernel) against its
 * definition written out element by element: bias[(h·T + t)·S + s] = table[bucket(s, qPos0 + t), h].
 * The buckets themselves are checked against llama.cpp end to end in test/models/t5-parity.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { RelativePositionBias, relativePositionBucket } from '../../ts/layers/relative-position-bias.js';

function naive(table: Float32Array, H: number, bidirectional: boolean, T: number, S: number, qPos0: number): Float32Array {
  const buckets = table.length / H;
  const out = new Float32Array(H * T * S);
  for (let h = 0; h < H; h++)
    for (let t = 0; t < T; t++)
      for (let s = 0; s < S; s++) out[(h * T + t) * S + s] = table[relativePositionBucket(s, qPos0 + t, buckets, bidirectional, 128) * H + h]!;
  return out;
}

describe('RelativePositionBias.fill', () => {
  const H = 3;
  const table = Float32Array.from({ length: 32 * H }, (_, i) => i + 0.5); // every (bucket, head) distinct
  for (const bidirectional of [true, false]) {
    it(`equals the element-by-element definition (${bidirectional ? 'encoder, bidirectional' : 'decoder, causal'})`, () => {
      const bias = new RelativePositionBias(table, H, bidirectional, 128);
      // encoder shapes, a decoder prompt, single decode steps far into the sequence, past maxDistance
      for (const [T, S, qPos0] of [[1, 1, 0], [7, 7, 0], [130, 130, 0], [5, 9, 4], [1, 300, 299], [3, 200, 197]] as const) {
        expect(bias.fill(T, S, qPos0)).toEqual(naive(table, H, bidirectional, T, S, qPos0));
      }
    });
  }
});
