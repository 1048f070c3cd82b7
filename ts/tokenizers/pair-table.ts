/**
 * An open-addressing hash table from a token pair (left, right) to (rank, merged id), in typed
 * arrays: BPE looks pairs up millions of times and a Map keyed by `left * V + right` would box
 * numbers above 2^31.
 */
export class PairTable {
  private keysL: Int32Array;
  private keysR: Int32Array;
  private ranks: Int32Array;
  private merged: Int32Array;
  private mask: number;
  size = 0;

  constructor(expected: number) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keysL = new Int32Array(cap).fill(-1);
    this.keysR = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private static hash(l: number, r: number): number {
    return (Math.imul(l, 0x9e3779b1) ^ Math.imul(r + 0x7f4a7c15, 0x85ebca77)) >>> 0;
  }

  /** Adds the pair unless it is already present (the first, lowest rank wins). Returns false if present. */
  add(l: number, r: number, rank: number, mergedId: number): boolean {
    if ((this.size + 1) * 2 > this.keysL.length) this.rehash();
    let i = PairTable.hash(l, r) & this.mask;
    for (;;) {
      const k = this.keysL[i]!;
      if (k === -1) break;
      if (k === l && this.keysR[i] === r) return false;
      i = (i + 1) & this.mask;
    }
    this.keysL[i] = l;
    this.keysR[i] = r;
    this.ranks[i] = rank;
    this.merged[i] = mergedId;
    this.size++;
    return true;
  }

  /** The slot of the pair, or -1. Read rankAt/mergedAt from it. */
  find(l: number, r: number): number {
    let i = PairTable.hash(l, r) & this.mask;
    for (;;) {
      const k = this.keysL[i]!;
      if (k === -1) return -1;
      if (k === l && this.keysR[i] === r) return i;
      i = (i + 1) & this.mask;
    }
  }

  rankAt(slot: number): number {
    return this.ranks[slot]!;
  }

  mergedAt(slot: number): number {
    return this.merged[slot]!;
  }

  private rehash(): void {
    const { keysL, keysR, ranks, merged } = this;
    const cap = keysL.length * 2;
    this.keysL = new Int32Array(cap).fill(-1);
    this.keysR = new Int32Array(cap);
    this.ranks = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < keysL.length; i++) if (keysL[i] !== -1) this.add(keysL[i]!, keysR[i]!, ranks[i]!, merged[i]!);
  }
}
