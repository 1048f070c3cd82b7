/**
 * An open-addressing hash table from a token pair (left, right) to (rank, merged id), in typed
 * arrays: BPE looks pairs up millions of times and a Map keyed by `left * V + right` would box
 * numbers above 2^31.
 *
 * The pairs are stored once, densely, in the order they were added (4 int32 each: left, right,
 * rank, merged id), and the hash slots hold only an entry number: Llama 3's 280k merges take
 * 4 MiB of slots and 4.5 MiB of entries, where a slot of 4 int32 per hash slot took 16 MiB.
 * A pair's handle (what `find` returns) is its entry number, so callers can also read the pairs
 * back in insertion order.
 */
export class PairTable {
  /** left, right, rank, merged id of entry e at 4e .. 4e + 3. */
  private entries: Int32Array;
  /** Per hash slot: entry number + 1, or 0 when the slot is empty. */
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.slots = new Int32Array(cap);
    this.entries = new Int32Array(4 * Math.max(expected, 4));
    this.mask = cap - 1;
  }

  private static hash(l: number, r: number): number {
    return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Adds the pair unless it is already present (the first, lowest rank wins). Returns false if present. */
  add(l: number, r: number, rank: number, mergedId: number): boolean {
    if ((this.size + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    const slot = this.probe(l, r);
    if (this.slots[slot] !== 0) return false;
    const e = this.size++;
    if (4 * this.size > this.entries.length) {
      const grown = new Int32Array(this.entries.length * 2);
      grown.set(this.entries);
      this.entries = grown;
    }
    const o = 4 * e;
    this.entries[o] = l;
    this.entries[o + 1] = r;
    this.entries[o + 2] = rank;
    this.entries[o + 3] = mergedId;
    this.slots[slot] = e + 1;
    return true;
  }

  /** The pair's entry number, or -1. Read rankAt/mergedAt from it. */
  find(l: number, r: number): number {
    return this.slots[this.probe(l, r)]! - 1;
  }

  rankAt(entry: number): number {
    return this.entries[4 * entry + 2]!;
  }

  mergedAt(entry: number): number {
    return this.entries[4 * entry + 3]!;
  }

  leftAt(entry: number): number {
    return this.entries[4 * entry]!;
  }

  rightAt(entry: number): number {
    return this.entries[4 * entry + 1]!;
  }

  /** The slot that holds the pair, or the empty slot where it would go. */
  private probe(l: number, r: number): number {
    const { slots, entries, mask } = this;
    let i = PairTable.hash(l, r) & mask;
    for (;;) {
      const e = slots[i]!;
      if (e === 0) return i;
      const o = 4 * (e - 1);
      if (entries[o] === l && entries[o + 1] === r) return i;
      i = (i + 1) & mask;
    }
  }

  private rehash(cap: number): void {
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    for (let e = 0; e < this.size; e++) this.slots[this.probe(this.entries[4 * e]!, this.entries[4 * e + 1]!)] = e + 1;
  }
}
