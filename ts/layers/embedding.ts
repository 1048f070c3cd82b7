/** Token (or position) embedding: row lookup in a `[vocab, dim]` table of any weight dtype. */
import type { Backend, Weights } from '../backend/types.js';

export class Embedding {
  readonly count: number;
  readonly dim: number;

  constructor(
    private readonly backend: Backend,
    readonly table: Weights,
  ) {
    this.count = table.rows;
    this.dim = table.cols;
  }

  /** out[i, :] = table[ids[i], :]. Ids outside [0, count) throw RangeError. */
  forward(out: Float32Array, ids: Int32Array): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (id < 0 || id >= this.count) throw new RangeError(`tensorloom: token id ${id} is outside the embedding table [0, ${this.count})`);
    }
    this.backend.embedding(out, this.table, ids);
  }
}
