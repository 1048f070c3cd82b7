/** A growable Uint32Array: the encoders append ids here without boxing them in a JS array. */
export class IdBuffer {
  data: Uint32Array;
  length = 0;

  constructor(capacity = 256) {
    this.data = new Uint32Array(Math.max(16, capacity));
  }

  push(id: number): void {
    if (this.length === this.data.length) this.grow(this.length + 1);
    this.data[this.length++] = id;
  }

  pushAll(ids: Uint32Array): void {
    const n = ids.length;
    if (this.length + n > this.data.length) this.grow(this.length + n);
    if (n <= 8) {
      for (let i = 0; i < n; i++) this.data[this.length + i] = ids[i]!;
    } else this.data.set(ids, this.length);
    this.length += n;
  }

  /** Appends src[off..off+n). */
  pushRange(src: Uint32Array | Int32Array, off: number, n: number): void {
    if (this.length + n > this.data.length) this.grow(this.length + n);
    const d = this.data;
    let o = this.length;
    for (let i = 0; i < n; i++) d[o++] = src[off + i]!;
    this.length = o;
  }

  /** A copy of the ids collected so far. */
  toArray(): Uint32Array {
    return this.data.slice(0, this.length);
  }

  private grow(min: number): void {
    let cap = this.data.length * 2;
    while (cap < min) cap *= 2;
    const next = new Uint32Array(cap);
    next.set(this.data.subarray(0, this.length));
    this.data = next;
  }
}
