/**
 * The key/value cache of a decoder: per layer, keys and values for up to `maxSeq` positions,
 * laid out `[position, kvHeads, headDim]` (the layout the attention kernel reads), in f32 or f16.
 * Keys are stored already rotated by RoPE, so old positions are never touched again.
 * `length` is how many leading positions hold valid entries; writing at position p makes every
 * position ≥ p stale, which is how a new prompt reuses a shared prefix.
 *
 * Sliding-window layers (`windows`) keep only what their queries can still read: a ring of
 * `capacity` = window + maxChunk − 1 positions (position p in row p mod capacity), stored twice
 * (rows r and r + capacity) so that any run of ≤ capacity consecutive positions is one contiguous
 * slice for the attention kernel. A chunk of up to maxChunk rows never overwrites a key its first
 * query reads. Going back (prefix reuse) works as long as the window before the restart position
 * is still in the ring: see `reusable`.
 */
import { RecurrentState, type RecurrentLayerSpec } from './recurrent-state.js';

export type KVDType = 'f32' | 'f16';
type KVArray = Float32Array | Uint16Array;

export interface KVCacheOptions {
  layers: number;
  maxSeq: number;
  kvHeads: number;
  headDim: number;
  /** Default 'f32'. f16 halves the memory (and the bytes attention reads per token). */
  dtype?: KVDType;
  /**
   * Hybrid models (Qwen3.5): the recurrent state each layer keeps per sequence (size 0 for the
   * attention layers). Layers with a state get no K/V buffers; the state travels with this cache.
   */
  recurrent?: readonly RecurrentLayerSpec[];
  /**
   * Layers whose K/V rows differ from `kvHeads × headDim` (Gemma 4: sliding and global layers have
   * different head sizes and KV head counts), by layer index; absent entries use the defaults.
   */
  layerShapes?: readonly ({ kvHeads: number; headDim: number } | undefined)[];
  /**
   * Layers that keep no K/V of their own but read another layer's (Gemma 4's KV-shared last
   * layers): `sharedFrom[l] = j` makes keys(l)/values(l) layer j's buffers.
   */
  sharedFrom?: readonly (number | null | undefined)[];
  /**
   * Sliding-window layers (window in positions, null = full attention): they keep a ring of
   * window + maxChunk − 1 positions instead of maxSeq, when that is smaller.
   */
  windows?: readonly (number | null | undefined)[];
  /** Most rows one forward step writes per sequence (sizes the rings). Default 256. */
  maxChunk?: number;
  /**
   * Where the K/V buffers' memory comes from: one call for all of them (Backend.allocate, which
   * the native backend maps in 2 MiB pages). Default: a plain ArrayBuffer.
   */
  allocate?: (bytes: number) => ArrayBuffer;
}

/** A sliding-window layer's ring: its window and how many positions it holds (capacity ≥ window). */
export interface KVRing {
  window: number;
  capacity: number;
}

export class KVCache {
  readonly layers: number;
  readonly maxSeq: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly dtype: KVDType;
  /** Elements per position in one layer (kvHeads × headDim). */
  readonly rowSize: number;
  /** Valid leading positions. */
  length = 0;
  private k: KVArray[];
  private v: KVArray[];
  /** The per-sequence state of the recurrent layers (hybrid models), else null. */
  readonly recurrent: RecurrentState | null;
  private readonly rings: (KVRing | null)[];
  /**
   * One past the highest position written since the cache last restarted at position 0: ring rows
   * of positions before writtenEnd − capacity have been overwritten.
   */
  writtenEnd = 0;

  constructor(o: KVCacheOptions) {
    for (const key of ['layers', 'maxSeq', 'kvHeads', 'headDim'] as const) {
      const x = o[key];
      if (!Number.isInteger(x) || x < 1) throw new RangeError(`tensorloom: KVCache ${key} must be an integer ≥ 1, got ${x}`);
    }
    const dtype = o.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'f16') throw new RangeError(`tensorloom: KVCache dtype must be 'f32' or 'f16', got '${String(dtype)}'`);
    this.layers = o.layers;
    this.maxSeq = o.maxSeq;
    this.kvHeads = o.kvHeads;
    this.headDim = o.headDim;
    this.dtype = dtype;
    this.rowSize = o.kvHeads * o.headDim;
    const rows = (l: number): number => {
      const s = o.layerShapes?.[l];
      if (!s) return this.rowSize;
      if (!Number.isInteger(s.kvHeads) || s.kvHeads < 1 || !Number.isInteger(s.headDim) || s.headDim < 1) {
        throw new RangeError(`tensorloom: KVCache layer ${l}: kvHeads and headDim must be integers ≥ 1, got ${s.kvHeads} and ${s.headDim}`);
      }
      return s.kvHeads * s.headDim;
    };
    const maxChunk = o.maxChunk ?? 256;
    if (!Number.isInteger(maxChunk) || maxChunk < 1) throw new RangeError(`tensorloom: KVCache maxChunk must be an integer ≥ 1, got ${maxChunk}`);
    this.rings = Array.from({ length: o.layers }, (_, l) => {
      const w = o.windows?.[l];
      if (w === undefined || w === null) return null;
      if (!Number.isInteger(w) || w < 1) throw new RangeError(`tensorloom: KVCache layer ${l}: window must be an integer ≥ 1, got ${w}`);
      const capacity = w + maxChunk - 1;
      return 2 * capacity < this.maxSeq ? { window: w, capacity } : null; // a ring only where it saves memory
    });
    const positions = (l: number): number => {
      const r = this.rings[o.sharedFrom?.[l] ?? l];
      return r ? 2 * r.capacity : this.maxSeq;
    };
    const empty = (): KVArray => (dtype === 'f32' ? new Float32Array(0) : new Uint16Array(0));
    const rec = o.recurrent ?? null;
    if (rec && rec.length !== o.layers) throw new RangeError(`tensorloom: KVCache recurrent has ${rec.length} layers, expected ${o.layers}`);
    // Every K and V buffer is carved from one allocation, each at a 64-byte boundary.
    const elemBytes = dtype === 'f32' ? 4 : 2;
    const bufferBytes = (l: number): number => Math.ceil((positions(l) * rows(l) * elemBytes) / 64) * 64;
    let total = 0;
    for (let l = 0; l < o.layers; l++) if ((o.sharedFrom?.[l] ?? null) === null && !(rec && rec[l]!.size > 0)) total += 2 * bufferBytes(l);
    const memory = o.allocate ? o.allocate(total) : new ArrayBuffer(total);
    if (!(memory instanceof ArrayBuffer) || memory.byteLength < total) {
      throw new RangeError(`tensorloom: KVCache allocate(${total}) must return an ArrayBuffer of at least ${total} bytes`);
    }
    let offset = 0;
    const make = (l: number): KVArray => {
      const n = positions(l) * rows(l);
      const a = dtype === 'f32' ? new Float32Array(memory, offset, n) : new Uint16Array(memory, offset, n);
      offset += bufferBytes(l);
      return a;
    };
    const shared = (l: number): number | null => {
      const j = o.sharedFrom?.[l];
      if (j === undefined || j === null) return null;
      if (!Number.isInteger(j) || j < 0 || j >= l || (o.sharedFrom?.[j] ?? null) !== null) {
        throw new RangeError(`tensorloom: KVCache layer ${l} shares layer ${j}'s K/V: it must be an earlier layer with K/V of its own`);
      }
      if (rows(j) !== rows(l)) throw new RangeError(`tensorloom: KVCache layer ${l} shares layer ${j}'s K/V, but their rows differ (${rows(l)} vs ${rows(j)} values)`);
      const [a, b] = [this.rings[l], this.rings[j]];
      if (a?.capacity !== b?.capacity) throw new RangeError(`tensorloom: KVCache layer ${l} shares layer ${j}'s K/V, but their sliding windows differ`);
      return j;
    };
    const kv = (l: number): KVArray => (rec && rec[l]!.size > 0 ? empty() : make(l));
    this.k = [];
    this.v = [];
    for (let l = 0; l < o.layers; l++) {
      const j = shared(l);
      this.k.push(j === null ? kv(l) : this.k[j]!);
      this.v.push(j === null ? kv(l) : this.v[j]!);
    }
    this.recurrent = rec ? new RecurrentState(rec) : null;
  }

  /** The ring of a sliding-window layer, or null when it keeps every position. */
  ring(layer: number): KVRing | null {
    return this.rings[layer]!;
  }

  /**
   * The largest restart position ≤ n whose window every ring still holds (n itself, or 0): where
   * a prompt that shares n tokens with the cached ones can resume.
   */
  reusable(n: number): number {
    if (n === 0) return 0;
    for (const r of this.rings) if (r && Math.max(0, n - r.window + 1) < this.writtenEnd - r.capacity) return 0;
    return n;
  }

  /** The whole key buffer of a layer, `[maxSeq, kvHeads, headDim]` (`[2 · capacity, …]` for a ring). */
  keys(layer: number): KVArray {
    return this.k[layer]!;
  }

  values(layer: number): KVArray {
    return this.v[layer]!;
  }

  /** Bytes held. */
  get bytes(): number {
    const own = new Set([...this.k, ...this.v]); // a shared layer's buffers count once
    let n = 0;
    for (const a of own) n += a.byteLength;
    return n + (this.recurrent?.bytes ?? 0);
  }

  /**
   * Makes this cache hold `src`'s first `positions` positions (a prompt's prefix shared by several
   * sequences). A recurrent state cannot be cut back, so `src`'s must hold exactly `positions` tokens.
   */
  copyPrefixFrom(src: KVCache, positions: number): void {
    if (src === this) return;
    if (src.layers !== this.layers || src.rowSize !== this.rowSize || src.dtype !== this.dtype) {
      throw new RangeError('tensorloom: KVCache.copyPrefixFrom: the caches have other shapes or types (another model)');
    }
    if (!Number.isInteger(positions) || positions < 0 || positions > src.length || positions > this.maxSeq) {
      throw new RangeError(`tensorloom: KVCache.copyPrefixFrom: ${positions} positions asked, the source holds ${src.length} and this cache ${this.maxSeq}`);
    }
    const n = positions * this.rowSize;
    for (let l = 0; l < this.layers; l++) {
      this.k[l]!.set(src.k[l]!.subarray(0, Math.min(n, src.k[l]!.length)));
      this.v[l]!.set(src.v[l]!.subarray(0, Math.min(n, src.v[l]!.length)));
    }
    if (src.recurrent && this.recurrent) {
      if (src.recurrent.length !== positions) throw new RangeError(`tensorloom: KVCache.copyPrefixFrom: the recurrent state holds ${src.recurrent.length} tokens, not ${positions}, and cannot be cut back`);
      this.recurrent.restore(src.recurrent);
    }
    this.length = positions;
  }

  /** Frees the buffers (the cache is unusable afterwards). */
  dispose(): void {
    this.k = [];
    this.v = [];
    this.length = 0;
  }
}
