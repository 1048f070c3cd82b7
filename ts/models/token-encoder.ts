/**
 * What the Embedder (ts/embed/embedder.ts) needs from a model: the hidden states of texts packed
 * back to back, and one vector per text from them. BERT-family encoders and decoder embedders
 * (./encoder.ts) and T5 encoders (./encoder-decoder.ts, `t5encoder` files) implement it, each with
 * its own forward pass; the pooling of token vectors into one is shared (`poolText`).
 */
import type { Pooling, TransformerConfig } from './config.js';

export interface TokenEncoder {
  /** vocabSize, dim and contextLength are read. */
  readonly config: TransformerConfig;
  /** Most tokens of one `hidden` call (texts are packed up to this). */
  readonly maxRows: number;
  /** The pooling embed() uses when the caller gives none (null: the caller must give one). */
  readonly defaultPooling: Pooling | null;
  /** Hidden states [N, dim] of texts packed back to back; `bounds` are the offsets [0, …, N]. */
  hidden(tokens: Int32Array, bounds: Int32Array): Float32Array;
  /** One vector per text of `hidden`'s output. */
  pool(hidden: Float32Array, bounds: Int32Array, pooling: Pooling): Float32Array[];
}

/**
 * One text's vector from its rows [a, e) of `hidden` ([N, dim]): the mean over its tokens (in
 * float64), its first token (CLS), its last, or all its rows one after another (none).
 */
export function poolText(hidden: Float32Array, a: number, e: number, dim: number, pooling: 'mean' | 'cls' | 'last' | 'none'): Float32Array {
  if (e <= a) throw new RangeError('tensorloom: cannot pool an empty text');
  if (pooling === 'mean') {
    const acc = new Float64Array(dim);
    for (let t = a; t < e; t++) for (let d = 0; d < dim; d++) acc[d]! += hidden[t * dim + d]!;
    return Float32Array.from(acc, (s) => s / (e - a));
  }
  if (pooling === 'last') return hidden.slice((e - 1) * dim, e * dim);
  if (pooling === 'none') return hidden.slice(a * dim, e * dim);
  return hidden.slice(a * dim, (a + 1) * dim);
}
