/**
 * A binary min-heap of merge candidates ordered by (priority, position): BPE pops the best rank,
 * SentencePiece the best score (stored negated), both breaking ties at the leftmost position, as
 * llama.cpp does. Entries go stale when a neighbour merges; callers check and skip them, so every
 * word costs O(n log n) however long it is (a 1 MB string without spaces is one "word").
 */
export class MergeHeap {
  private prio = new Float64Array(64);
  private pos = new Int32Array(64);
  private right = new Int32Array(64);
  private extra = new Int32Array(64);
  length = 0;
  // the entry popped last
  topPos = 0;
  topRight = 0;
  topExtra = 0;
  topPrio = 0;

  clear(): void {
    this.length = 0;
  }

  push(priority: number, position: number, right: number, extra: number): void {
    if (this.length === this.prio.length) this.grow();
    let i = this.length++;
    const { prio, pos } = this;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pp = prio[p]!;
      if (pp < priority || (pp === priority && pos[p]! <= position)) break;
      this.move(p, i);
      i = p;
    }
    prio[i] = priority;
    pos[i] = position;
    this.right[i] = right;
    this.extra[i] = extra;
  }

  /** Removes the best entry into top*; returns false when empty. */
  pop(): boolean {
    if (this.length === 0) return false;
    const { prio, pos } = this;
    this.topPrio = prio[0]!;
    this.topPos = pos[0]!;
    this.topRight = this.right[0]!;
    this.topExtra = this.extra[0]!;
    const last = --this.length;
    if (last === 0) return true;
    const lp = prio[last]!;
    const lpos = pos[last]!;
    const lr = this.right[last]!;
    const le = this.extra[last]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      const c2 = c + 1;
      if (c2 < last && (prio[c2]! < prio[c]! || (prio[c2] === prio[c] && pos[c2]! < pos[c]!))) c = c2;
      if (lp < prio[c]! || (lp === prio[c] && lpos <= pos[c]!)) break;
      this.move(c, i);
      i = c;
    }
    prio[i] = lp;
    pos[i] = lpos;
    this.right[i] = lr;
    this.extra[i] = le;
    return true;
  }

  private move(from: number, to: number): void {
    this.prio[to] = this.prio[from]!;
    this.pos[to] = this.pos[from]!;
    this.right[to] = this.right[from]!;
    this.extra[to] = this.extra[from]!;
  }

  private grow(): void {
    const n = this.prio.length * 2;
    const g = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.prio = g(this.prio, (k) => new Float64Array(k));
    this.pos = g(this.pos, (k) => new Int32Array(k));
    this.right = g(this.right, (k) => new Int32Array(k));
    this.extra = g(this.extra, (k) => new Int32Array(k));
  }
}
