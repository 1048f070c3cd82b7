/**
 * Scratch memory shared by the layers of one model: one f32 buffer per name, sized once for the
 * largest batch (`maxRows` token rows), handed out as exact-length views `[T, cols]`. Views are
 * cached per (name, T), so the per-token path (T = 1) allocates nothing. Blocks run one after
 * another, so every block can reuse the same names.
 */
export class Workspace {
  private readonly buffers = new Map<string, Slot<Float32Array>>();
  private readonly halfBuffers = new Map<string, Slot<Uint16Array>>();

  constructor(readonly maxRows: number) {
    if (!Number.isInteger(maxRows) || maxRows < 1) throw new RangeError(`tensorloom: Workspace maxRows must be an integer ≥ 1, got ${maxRows}`);
  }

  /** A view of T rows × cols of the buffer `name` (created on first use, one per width asked for). */
  rows(name: string, T: number, cols: number): Float32Array {
    return this.view(this.buffers, Float32Array, name, T, cols);
  }

  /** The same for raw 16-bit buffers (f16 staging for a half-precision KV cache). */
  rowsU16(name: string, T: number, cols: number): Uint16Array {
    return this.view(this.halfBuffers, Uint16Array, name, T, cols);
  }

  private view<A extends Float32Array | Uint16Array>(
    map: Map<string, Slot<A>>,
    Ctor: new (n: number) => A,
    name: string,
    T: number,
    cols: number,
  ): A {
    let b = map.get(name);
    // layers of different widths (Gemma 4's sliding and global heads) get one buffer per width
    if (b && b.cols !== cols) {
      const key = `${name}/${cols}`;
      b = map.get(key);
      if (!b) map.set(key, (b = { cols, data: new Ctor(this.maxRows * cols), views: new Map() }));
    }
    if (!b) {
      b = { cols, data: new Ctor(this.maxRows * cols), views: new Map() };
      map.set(name, b);
    }
    let v = b.views.get(T);
    if (!v) {
      if (T < 1 || T > this.maxRows) throw new RangeError(`tensorloom: ${T} rows requested from a workspace of ${this.maxRows}`);
      v = b.data.subarray(0, T * cols) as A;
      b.views.set(T, v);
    }
    return v;
  }

  /** Bytes held by all buffers. */
  get bytes(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.data.byteLength;
    for (const b of this.halfBuffers.values()) n += b.data.byteLength;
    return n;
  }
}

interface Slot<A> {
  cols: number;
  data: A;
  views: Map<number, A>;
}
