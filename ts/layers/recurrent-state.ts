/**
 * The per-sequence memory of recurrent layers (LinearAttention, GatedDeltaNet): what a KV cache is
 * for softmax attention, but of a fixed size however long the sequence grows. One Float32Array per
 * layer (empty for layers that keep none), each tagged with the layer that owns it, so a state from
 * another layer or model is refused with an error naming both, never misread.
 *
 * `length` counts the tokens absorbed. Unlike a KV cache a recurrent state cannot be cut back to a
 * shorter prefix, so prefix reuse keeps a `snapshot()` taken at the prefix end and `restore()`s it.
 */
export interface RecurrentLayerSpec {
  /** Floats of state the layer keeps (0 = none, e.g. a full-attention layer of a hybrid model). */
  size: number;
  /** Who owns it, e.g. `GatedDeltaNet(Hk=2, Hv=4, Dk=128, Dv=128, conv 4×1024)`; shown in errors. */
  owner: string;
}

export class RecurrentState {
  readonly layers: readonly RecurrentLayerSpec[];
  /** Tokens absorbed so far. */
  length = 0;
  private readonly data: Float32Array[];

  constructor(layers: readonly RecurrentLayerSpec[]) {
    layers.forEach((l, i) => {
      if (!Number.isInteger(l.size) || l.size < 0) throw new RangeError(`tensorloom: RecurrentState layer ${i} size must be an integer ≥ 0, got ${l.size}`);
    });
    this.layers = layers.map((l) => ({ ...l }));
    this.data = layers.map((l) => new Float32Array(l.size));
  }

  /** Layer `layer`'s state, after checking it was made for `spec` (same size and owner). */
  layer(layer: number, spec: RecurrentLayerSpec): Float32Array {
    const mine = this.layers[layer];
    if (!mine) throw new RangeError(`tensorloom: RecurrentState has ${this.layers.length} layers, asked for layer ${layer}`);
    if (mine.size !== spec.size || mine.owner !== spec.owner) {
      throw new RangeError(
        `tensorloom: RecurrentState layer ${layer} was made for ${mine.owner} (${mine.size} floats), not ${spec.owner} (${spec.size} floats): a state from another layer or model`,
      );
    }
    return this.data[layer]!;
  }

  /** Back to the empty sequence (all zeros). */
  reset(): void {
    for (const d of this.data) d.fill(0);
    this.length = 0;
  }

  /** A copy of the state as it is now (e.g. at the end of a shared prompt prefix). */
  snapshot(): RecurrentState {
    const s = new RecurrentState(this.layers);
    this.data.forEach((d, i) => s.data[i]!.set(d));
    s.length = this.length;
    return s;
  }

  /** Makes this state equal to `from` (a snapshot of a state with the same layers). */
  restore(from: RecurrentState): void {
    if (from.layers.length !== this.layers.length || from.layers.some((l, i) => l.size !== this.layers[i]!.size || l.owner !== this.layers[i]!.owner)) {
      throw new RangeError('tensorloom: RecurrentState.restore: the snapshot was taken from a state with other layers (another model)');
    }
    this.data.forEach((d, i) => d.set(from.data[i]!));
    this.length = from.length;
  }

  private kept: RecurrentState | null = null;

  /** Keeps a snapshot of the state as it is now (the one `rewindTo` can go back to). */
  keepSnapshot(): void {
    if (this.kept) this.kept.restore(this);
    else this.kept = this.snapshot();
  }

  /**
   * The absolute position after which the forward pass under way keeps its snapshot (a prompt's
   * last token), or null. Set by `beginSnapshotAt`; each recurrent layer copies its part of the
   * state into the snapshot as it passes that point (`snapshotRow`, `keepLayerPart`), so the prompt
   * runs in one pass instead of two (the second a one-row pass over every weight).
   */
  private snapshotAt: number | null = null;

  beginSnapshotAt(position: number): void {
    this.snapshotAt = position;
    this.kept ??= new RecurrentState(this.layers);
  }

  /** Ends the pass: the kept snapshot now holds `snapshotAt` tokens, or is dropped when `ok` is false. */
  endSnapshot(ok: boolean): void {
    if (this.snapshotAt !== null && this.kept) {
      if (ok) this.kept.length = this.snapshotAt;
      else this.kept = null;
    }
    this.snapshotAt = null;
  }

  /** For a layer about to absorb T tokens from `pos`: after how many of them (1..T) to keep its state, else 0. */
  snapshotRow(pos: number, T: number): number {
    if (this.snapshotAt === null) return 0;
    const r = this.snapshotAt - pos;
    return r >= 1 && r <= T ? r : 0;
  }

  /** Copies floats [from, to) of layer `layer`'s state, as they are now, into the kept snapshot. */
  keepLayerPart(layer: number, from: number, to: number): void {
    this.kept!.data[layer]!.set(this.data[layer]!.subarray(from, to), from);
  }

  /**
   * Makes the state hold at most the first `pos` tokens, as a KV cache does by writing at `pos`:
   * stays if it holds exactly `pos`, else goes back to the kept snapshot if that holds no more
   * than `pos` tokens, else to the empty state. Returns the tokens it now holds (≤ pos); the
   * caller runs the rest again.
   */
  rewindTo(pos: number): number {
    if (pos === this.length) return pos;
    if (this.kept && this.kept.length <= pos) this.restore(this.kept);
    else this.reset();
    return this.length;
  }

  /** Bytes held: constant in the sequence length. */
  get bytes(): number {
    return this.data.reduce((n, d) => n + d.byteLength, 0);
  }
}
