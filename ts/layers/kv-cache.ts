/**
 * The key/value cache of a decoder: per layer, keys and values for up to `maxSeq` positions,
 * laid out `[position, kvHeads, headDim]` (the layout the attention kernel reads), in f32 or f16.
 * Keys are stored already rotated by RoPE, so old positions are never touched again.
 * `length` is how many leading positions hold valid entries; writing at position p makes every
 * position ≥ p stale, which is how a new prompt reuses a shared prefix.
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
    const n = this.maxSeq * this.rowSize;
    const make = (): KVArray => (dtype === 'f32' ? new Float32Array(n) : new Uint16Array(n));
    const rec = o.recurrent ?? null;
    if (rec && rec.length !== o.layers) throw new RangeError(`tensorloom: KVCache recurrent has ${rec.length} layers, expected ${o.layers}`);
    const kv = (l: number): KVArray => (rec && rec[l]!.size > 0 ? (dtype === 'f32' ? new Float32Array(0) : new Uint16Array(0)) : make());
    this.k = Array.from({ length: o.layers }, (_, l) => kv(l));
    this.v = Array.from({ length: o.layers }, (_, l) => kv(l));
    this.recurrent = rec ? new RecurrentState(rec) : null;
  }

  /** The whole key buffer of a layer, `[maxSeq, kvHeads, headDim]`. */
  keys(layer: number): KVArray {
    return this.k[layer]!;
  }

  values(layer: number): KVArray {
    return this.v[layer]!;
  }

  /**
   * Copies the first `positions` entries of every layer from `src` (same shape) and sets `length`
   * to match: a beam that continues in several ways gets its own copy of the shared prefix.
   */
  copyPrefixFrom(src: KVCache, positions: number): void {
    if (src.layers !== this.layers || src.rowSize !== this.rowSize || src.dtype !== this.dtype) {
      throw new RangeError('tensorloom: copyPrefixFrom needs a KV cache of the same shape and dtype');
    }
    if (src.recurrent || this.recurrent) throw new RangeError('tensorloom: a cache with recurrent layers cannot be copied by position');
    if (!Number.isInteger(positions) || positions < 0 || positions > src.length || positions > this.maxSeq) {
      throw new RangeError(`tensorloom: copyPrefixFrom positions must be in [0, ${Math.min(src.length, this.maxSeq)}], got ${positions}`);
    }
    const n = positions * this.rowSize;
    for (let l = 0; l < this.layers; l++) {
      (this.k[l] as Float32Array).set((src.k[l] as Float32Array).subarray(0, n));
      (this.v[l] as Float32Array).set((src.v[l] as Float32Array).subarray(0, n));
    }
    this.length = positions;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.k.reduce((s, a) => s + a.byteLength, 0) * 2 + (this.recurrent?.bytes ?? 0);
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
