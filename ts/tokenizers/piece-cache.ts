/**
 * Cache from a pre-tokenized piece (or SentencePiece segment) to its ids. The ids live in one
 * growing Uint32Array arena and the map holds (offset, length) packed in a number, so a cold
 * pass over 10 MB of text does not allocate a typed array per distinct piece (that GC load was a
 * third of the time).
 */
import type { IdBuffer } from './id-buffer.js';

const MAX_ENTRIES = 1 << 18;
const MAX_ARENA = 1 << 24;
const LEN_BITS = 2 ** 8;

export class PieceCache {
  private map = new Map<string, number>();
  private arena = new Uint32Array(1 << 16);
  private used = 0;

  /** Appends the cached ids of `key` to out; false when not cached. */
  emit(key: string, out: IdBuffer): boolean {
    const ref = this.map.get(key);
    if (ref === undefined) return false;
    const len = ref % LEN_BITS;
    const off = (ref - len) / LEN_BITS;
    out.pushRange(this.arena, off, len);
    return true;
  }

  /** Caches ids[0..n) for key (pieces with 256 or more ids are not cached). */
  set(key: string, ids: ArrayLike<number>, n: number): void {
    if (n >= LEN_BITS) return;
    if (this.map.size >= MAX_ENTRIES || this.used + n > MAX_ARENA) {
      this.map.clear();
      this.used = 0;
    }
    if (this.used + n > this.arena.length) {
      const next = new Uint32Array(Math.min(MAX_ARENA, Math.max(this.arena.length * 2, this.used + n)));
      next.set(this.arena.subarray(0, this.used));
      this.arena = next;
    }
    for (let i = 0; i < n; i++) this.arena[this.used + i] = ids[i]!;
    this.map.set(key, this.used * LEN_BITS + n);
    this.used += n;
  }

  get size(): number {
    return this.map.size;
  }
}
