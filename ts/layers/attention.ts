/**
 * Multi-head causal self-attention with a KV cache: Q, K, V projections (optional biases, as in
 * Qwen2 and GPT-2), RoPE (interleaved or half layout, or none for learned positions), grouped-query
 * attention (fewer KV heads than query heads), then the output projection.
 *
 * With an f32 cache the new K/V rows are copied into the cache and the fused attention kernel
 * rotates q on the fly and the new keys in place. With an f16 cache q and k are rotated first (in
 * f32, as llama.cpp does) and k/v converted to f16 before they are stored.
 */
import type { AttentionShape, Backend, RopeOptions } from '../backend/types.js';
import type { KVCache, KVRing } from './kv-cache.js';
import type { RMSNorm } from './rmsnorm.js';
import type { RopeTable } from './rope-table.js';
import type { Step } from './step.js';
import { SharedProjections, type Linear } from './linear.js';
import type { Workspace } from './workspace.js';

export interface AttentionOptions {
  q: Linear;
  /** null only with `sharedKv` (the layer computes no keys or values). */
  k: Linear | null;
  v: Linear | null;
  o: Linear;
  /**
   * Optional: the same three projections as one matrix, rows [q | k | v]. A single token then
   * takes one matmul instead of three (fewer kernel calls per decode step); batches keep using
   * q, k, v, whose outputs are already laid out per projection.
   */
  qkv?: Linear | null;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** null = no rotary embedding (learned absolute positions, e.g. GPT-2). */
  rope: RopeOptions | null;
  /** Default 1/√headDim. */
  scale?: number;
  /**
   * Scaled RoPE (Llama 3 factors, linear, YaRN) from a precomputed table: q and k are rotated
   * before the kernel, which then runs without `rope`. Replaces `rope` when given.
   */
  ropeTable?: RopeTable | null;
  /** Per-head RMSNorm of q and of k (weights of length headDim) before RoPE (Qwen3). */
  qNorm?: RMSNorm | null;
  kNorm?: RMSNorm | null;
  /** q at position p scaled by 1 + beta · ln(⌊p / floor⌋ + 1) (Llama 4 / Ministral 3 attention temperature). */
  temperature?: { beta: number; floor: number } | null;
  /**
   * Sliding-window attention: the query at position p sees keys p' with p - window < p' ≤ p
   * (llama.cpp's standard SWA mask). A cache made with this layer's window keeps only a ring of
   * recent positions (see KVCache); otherwise it keeps every position and only the keys each
   * query reads are limited. null = full causal attention.
   */
  window?: number | null;
  /** Attention logit soft-capping: score → cap · tanh(score / cap) (Gemma 2). null = none. */
  softcap?: number | null;
  /** RMSNorm of each head of v before it is stored (Gemma 4; a norm of unit weights). */
  vNorm?: RMSNorm | null;
  /**
   * The layer reads the K/V another layer stored (Gemma 4's KV-shared layers; the cache maps this
   * layer to that one, see KVCache's `sharedFrom`): only q is computed, rotated and attended.
   */
  sharedKv?: boolean;
}

export class Attention {
  readonly q: Linear;
  readonly k: Linear | null;
  readonly v: Linear | null;
  readonly o: Linear;
  readonly qkv: Linear | null;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  readonly rope: RopeOptions | null;
  readonly ropeTable: RopeTable | null;
  readonly qNorm: RMSNorm | null;
  readonly kNorm: RMSNorm | null;
  readonly temperature: { beta: number; floor: number } | null;
  readonly window: number | null;
  readonly vNorm: RMSNorm | null;
  readonly sharedKv: boolean;
  /** Reused for every call: the kernel's shape argument (no allocation per token). */
  private readonly shape: AttentionShape;
  /** The same without RoPE, for the f16 path (q and k are rotated before the kernel). */
  private readonly shapePlain: AttentionShape;

  constructor(
    private readonly backend: Backend,
    o: AttentionOptions,
  ) {
    this.q = o.q;
    this.k = o.k;
    this.v = o.v;
    this.o = o.o;
    this.qkv = o.qkv ?? null;
    this.nHeads = o.nHeads;
    this.nKvHeads = o.nKvHeads;
    this.headDim = o.headDim;
    this.ropeTable = o.ropeTable ?? null;
    this.rope = this.ropeTable ? null : o.rope;
    this.qNorm = o.qNorm ?? null;
    this.kNorm = o.kNorm ?? null;
    this.temperature = o.temperature ?? null;
    this.window = o.window ?? null;
    this.vNorm = o.vNorm ?? null;
    this.sharedKv = o.sharedKv ?? false;
    if (!this.sharedKv && (!o.k || !o.v)) throw new Error('tensorloom: Attention needs k and v projections (only a KV-shared layer has none)');
    if (this.window !== null && (!Number.isInteger(this.window) || this.window < 1)) throw new RangeError(`tensorloom: Attention window must be an integer ≥ 1, got ${this.window}`);
    for (const [name, n] of [['q', this.qNorm], ['k', this.kNorm], ['v', this.vNorm]] as const) {
      if (n && n.dim !== o.headDim) throw new RangeError(`tensorloom: Attention ${name} norm has ${n.dim} weights, expected ${o.headDim} (one head)`);
    }
    const qDim = o.nHeads * o.headDim;
    const kvDim = o.nKvHeads * o.headDim;
    if (o.nHeads % o.nKvHeads !== 0) throw new RangeError(`tensorloom: Attention heads (${o.nHeads}) must be a multiple of KV heads (${o.nKvHeads})`);
    const expect = (name: string, l: Linear, out: number, inF: number): void => {
      if (l.outFeatures !== out || l.inFeatures !== inF) {
        throw new RangeError(`tensorloom: Attention ${name} projection is [${l.outFeatures}, ${l.inFeatures}], expected [${out}, ${inF}]`);
      }
    };
    const dim = o.q.inFeatures;
    expect('q', o.q, qDim, dim);
    if (o.k) expect('k', o.k, kvDim, dim);
    if (o.v) expect('v', o.v, kvDim, dim);
    expect('output', o.o, dim, qDim);
    if (this.qkv) expect('fused qkv', this.qkv, qDim + 2 * kvDim, dim);
    if (this.sharedKv && this.qkv) throw new Error('tensorloom: a KV-shared attention layer has no fused qkv projection');
    const base = {
      T: 1, S: 1, H: o.nHeads, Hkv: o.nKvHeads, D: o.headDim, posOffset: 0, causal: true,
      ...(o.scale !== undefined ? { scale: o.scale } : {}),
      ...(o.softcap ? { softcap: o.softcap } : {}),
    };
    this.shape = this.rope ? { ...base, rope: this.rope } : { ...base };
    this.shapePlain = { ...base };
  }

  /**
   * out[M, dim] = attention for the step's rows: each sequence's rows attend over its positions
   * [0, pos + T) and write their K/V into its cache (layer `layer`). The projections run once over
   * all M rows; the cache write and the kernel per sequence.
   */
  forward(out: Float32Array, x: Float32Array, step: Step, layer: number, ws: Workspace): void {
    const M = step.M;
    const qDim = this.nHeads * this.headDim;
    const kvDim = this.nKvHeads * this.headDim;
    const att = ws.rows('attn.out', M, qDim);
    let q: Float32Array;
    let k: Float32Array;
    let v: Float32Array;
    if (this.sharedKv) {
      q = ws.rows('attn.q', M, qDim);
      this.q.forward(q, x, M);
      k = v = q; // not read: the layer attends over the K/V another layer stored
    } else if (M === 1 && this.qkv) {
      const fused = ws.rows('attn.qkv', 1, qDim + 2 * kvDim);
      this.qkv.forward(fused, x, 1);
      [q, k, v] = this.split(fused, qDim, kvDim);
    } else {
      q = ws.rows('attn.q', M, qDim);
      k = ws.rows('attn.k', M, kvDim);
      v = ws.rows('attn.v', M, kvDim);
      (this.qkvShared ??= new SharedProjections([this.q, this.k!, this.v!])).forward([q, k, v], x, M);
    }
    if (this.qNorm) this.qNorm.forward(q, q, M * this.nHeads);
    if (this.kNorm && !this.sharedKv) this.kNorm.forward(k, k, M * this.nKvHeads);
    if (this.vNorm && !this.sharedKv) this.vNorm.forward(v, v, M * this.nKvHeads);
    const seqs = step.sequences;
    if (seqs.length === 1 && seqs[0]!.T === M) {
      const s = seqs[0]!; // one sequence owns every row: no views to cut (the per-token path)
      this.attendCached(att, q, k, v, M, s.pos, s.cache, layer, ws);
    } else {
      for (const s of seqs) {
        const a = s.offset;
        const e = a + s.T;
        this.attendCached(
          att.subarray(a * qDim, e * qDim), q.subarray(a * qDim, e * qDim), k.subarray(a * kvDim, e * kvDim), v.subarray(a * kvDim, e * kvDim),
          s.T, s.pos, s.cache, layer, ws,
        );
      }
      if (M > step.N) att.copyWithin(step.N * qDim, 0, qDim); // the padding row copies row 0
    }
    this.o.forward(out, att, M);
  }

  /**
   * The cached half of forward: stores the T new K/V rows (at positions [pos, pos + T)) in layer
   * `layer` of `cache`, then writes att[T, H*D] = attention of q over positions [0, pos + T).
   * q and k may be rotated in place (f16 cache).
   */
  attendCached(att: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, T: number, pos: number, cache: KVCache, layer: number, ws: Workspace): void {
    const b = this.backend;
    const kvDim = this.nKvHeads * this.headDim;
    const S = pos + T;
    if (S > cache.maxSeq) throw new RangeError(`tensorloom: position ${S - 1} is beyond the KV cache (${cache.maxSeq} positions)`);
    const kc = cache.keys(layer);
    const vc = cache.values(layer);
    const f32 = kc instanceof Float32Array;
    const shape = f32 ? this.shape : this.shapePlain;
    shape.T = T;
    shape.S = S;
    shape.posOffset = pos;
    const shared = this.sharedKv;
    if (this.ropeTable) {
      this.ropeTable.apply(q, T, this.nHeads, this.headDim, pos);
      if (!shared) this.ropeTable.apply(k, T, this.nKvHeads, this.headDim, pos);
    }
    if (this.temperature) {
      const qDim = this.nHeads * this.headDim;
      const { beta, floor } = this.temperature;
      for (let t = 0; t < T; t++) {
        const s = Math.fround(Math.log(Math.floor((pos + t) / floor) + 1) * beta + 1);
        if (s === 1) continue;
        for (let i = t * qDim; i < (t + 1) * qDim; i++) q[i]! *= s;
      }
    }
    const ring = this.window !== null ? cache.ring(layer) : null;
    if (ring) {
      this.attendRing(att, q, k, v, T, pos, cache, layer, ws, ring);
      return;
    }
    if (this.window !== null && S > this.window) {
      this.attendWindowed(att, q, k, v, T, pos, cache, layer);
      return;
    }
    if (shared) {
      // the keys at [pos, pos + T) were stored (rotated) by the layer that owns them this step
      if (this.rope) b.rope(q, T, this.nHeads, this.headDim, pos, this.rope);
      const plain = this.shapePlain;
      plain.T = T;
      plain.S = S;
      plain.posOffset = pos;
      b.attention(att, q, kc.subarray(0, S * kvDim), vc.subarray(0, S * kvDim) as typeof kc, plain);
      return;
    }
    if (f32) {
      kc.set(k, pos * kvDim);
      (vc as Float32Array).set(v, pos * kvDim);
      b.attention(att, q, kc.subarray(0, S * kvDim), (vc as Float32Array).subarray(0, S * kvDim), shape);
    } else {
      if (this.rope) {
        b.rope(q, T, this.nHeads, this.headDim, pos, this.rope);
        b.rope(k, T, this.nKvHeads, this.headDim, pos, this.rope);
      }
      // the new rows go to the cache as f16 directly (no staging copy)
      b.f32ToF16((kc as Uint16Array).subarray(pos * kvDim, S * kvDim), k);
      b.f32ToF16((vc as Uint16Array).subarray(pos * kvDim, S * kvDim), v);
      // q and the cached keys are already rotated: shapePlain has no rope
      b.attention(att, q, kc.subarray(0, S * kvDim), (vc as Uint16Array).subarray(0, S * kvDim), shape);
    }
  }

  /** Reused by attendWindowed: one query row, no RoPE (q and keys are rotated first). */
  private readonly rowShape: AttentionShape = { T: 1, S: 1, H: 1, Hkv: 1, D: 1, posOffset: 0, causal: true };

  /**
   * attendCached when some query's window starts after position 0: q and k are rotated first and
   * the K/V rows stored (f32 or f16), then each query row runs the kernel over its own window
   * [max(0, p - window + 1), p] of the cache.
   */
  private attendWindowed(att: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, T: number, pos: number, cache: KVCache, layer: number): void {
    const b = this.backend;
    const qDim = this.nHeads * this.headDim;
    const kvDim = this.nKvHeads * this.headDim;
    const W = this.window!;
    if (this.rope) {
      b.rope(q, T, this.nHeads, this.headDim, pos, this.rope);
      if (!this.sharedKv) b.rope(k, T, this.nKvHeads, this.headDim, pos, this.rope);
    }
    const kc = cache.keys(layer);
    const vc = cache.values(layer);
    if (this.sharedKv) {
      // nothing to store: another layer's K/V
    } else if (kc instanceof Float32Array) {
      kc.set(k, pos * kvDim);
      (vc as Float32Array).set(v, pos * kvDim);
    } else {  // as f16, straight into the cache
      b.f32ToF16(kc.subarray(pos * kvDim, (pos + T) * kvDim), k);
      b.f32ToF16((vc as Uint16Array).subarray(pos * kvDim, (pos + T) * kvDim), v);
    }
    const shape = this.rowShape;
    Object.assign(shape, this.shapePlain);
    shape.T = 1;
    for (let t = 0; t < T; t++) {
      const p = pos + t;
      const start = Math.max(0, p - W + 1);
      shape.S = p + 1 - start;
      shape.posOffset = p - start;
      b.attention(
        att.subarray(t * qDim, (t + 1) * qDim), q.subarray(t * qDim, (t + 1) * qDim),
        kc.subarray(start * kvDim, (p + 1) * kvDim), vc.subarray(start * kvDim, (p + 1) * kvDim) as typeof kc, shape,
      );
    }
  }

  /**
   * attendCached over a sliding-window ring (KVCache `windows`): q and k rotated first, each new
   * K/V row stored at row p mod capacity and its mirror p mod capacity + capacity, then each query
   * attends over its window, a contiguous slice of the doubled ring.
   */
  private attendRing(att: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, T: number, pos: number, cache: KVCache, layer: number, ws: Workspace, ring: KVRing): void {
    const b = this.backend;
    const qDim = this.nHeads * this.headDim;
    const kvDim = this.nKvHeads * this.headDim;
    const { window: W, capacity: C } = ring;
    if (T > C - W + 1) {
      throw new RangeError(`tensorloom: ${T} rows of one sequence in one step exceed the ${C - W + 1} the sliding-window cache of layer ${layer} was made for (createCache's maxChunk)`);
    }
    const need = Math.max(0, pos - W + 1);
    if (need < pos && need < cache.writtenEnd - C) {
      throw new RangeError(
        `tensorloom: the sliding-window cache of layer ${layer} no longer holds positions [${need}, ${pos}) (it keeps the last ${C} written); ` +
          'resume at a position cache.reusable() allows, or at 0',
      );
    }
    if (this.rope) {
      b.rope(q, T, this.nHeads, this.headDim, pos, this.rope);
      if (!this.sharedKv) b.rope(k, T, this.nKvHeads, this.headDim, pos, this.rope);
    }
    const kc = cache.keys(layer);
    const vc = cache.values(layer);
    if (!this.sharedKv) {
      let ks: Float32Array | Uint16Array = k;
      let vs: Float32Array | Uint16Array = v;
      if (!(kc instanceof Float32Array)) {
        ks = ws.rowsU16('attn.k16', T, kvDim);
        vs = ws.rowsU16('attn.v16', T, kvDim);
        b.f32ToF16(ks, k);
        b.f32ToF16(vs, v);
      }
      for (let t = 0; t < T; t++) {
        const r = (pos + t) % C;
        const kr = ks.subarray(t * kvDim, (t + 1) * kvDim);
        const vr = vs.subarray(t * kvDim, (t + 1) * kvDim);
        for (const at of [r, r + C]) {
          (kc as Float32Array).set(kr as Float32Array, at * kvDim);
          (vc as Float32Array).set(vr as Float32Array, at * kvDim);
        }
      }
    }
    const shape = this.rowShape;
    Object.assign(shape, this.shapePlain);
    if (pos + T <= W) {
      // every query's window starts at position 0, which is row 0: one call for the chunk
      shape.T = T;
      shape.S = pos + T;
      shape.posOffset = pos;
      b.attention(att, q, kc.subarray(0, (pos + T) * kvDim), vc.subarray(0, (pos + T) * kvDim) as typeof kc, shape);
      return;
    }
    shape.T = 1;
    for (let t = 0; t < T; t++) {
      const p = pos + t;
      const start = Math.max(0, p - W + 1);
      const base = start % C;
      const len = p + 1 - start;
      shape.S = len;
      shape.posOffset = len - 1;
      b.attention(
        att.subarray(t * qDim, (t + 1) * qDim), q.subarray(t * qDim, (t + 1) * qDim),
        kc.subarray(base * kvDim, (base + len) * kvDim), vc.subarray(base * kvDim, (base + len) * kvDim) as typeof kc, shape,
      );
    }
  }

  /** One token's q, k, v from the separate matrices as one backend call (x quantized once, one pool job). */
  private qkvShared: SharedProjections | null = null;

  private splitOf: Float32Array | null = null;
  private splitViews: [Float32Array, Float32Array, Float32Array] | null = null;

  /** q, k, v views of one fused row (cached: the workspace hands out the same row every step). */
  private split(row: Float32Array, qDim: number, kvDim: number): [Float32Array, Float32Array, Float32Array] {
    if (this.splitOf !== row || !this.splitViews) {
      this.splitOf = row;
      this.splitViews = [row.subarray(0, qDim), row.subarray(qDim, qDim + kvDim), row.subarray(qDim + kvDim, qDim + 2 * kvDim)];
    }
    return this.splitViews;
  }
}
