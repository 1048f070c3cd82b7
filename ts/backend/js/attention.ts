/**
 * Attention and RoPE in plain TypeScript: the baseline the native kernels are tested and
 * benchmarked against, and the fallback when the addon cannot load. One query row at a time with
 * an online softmax (running max, running sum, un-normalized output in f64), so it never
 * materializes the T×S score matrix either.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import { fmaf } from './fmaf.js';
import type { AttentionOps, AttentionShape, RopeOptions } from '../types.js';
import { f16ToF32, f32ToF16 } from './f16bits.js';

const MAX_HEAD_DIM = 4096;
const MAX_POSITIONS = 2 ** 31 - 1;

/** Validated RoPE options with `dims` filled in. */
interface Rope {
  theta: number;
  layout: 'interleaved' | 'half';
  dims: number;
}

/** Checks RopeOptions the way the native glue does; returns them with dims defaulted to D. */
export function checkRope(rope: RopeOptions, D: number): Rope {
  if (typeof rope !== 'object' || rope === null) throw new TypeError('tensorloom: rope must be a RopeOptions object');
  if (typeof rope.layout !== 'string') throw new TypeError("tensorloom: rope.layout must be 'interleaved' or 'half'");
  if (rope.layout !== 'interleaved' && rope.layout !== 'half') {
    throw new RangeError(`tensorloom: rope.layout must be 'interleaved' or 'half', got '${String(rope.layout)}'`);
  }
  if (typeof rope.theta !== 'number') throw new TypeError('tensorloom: rope.theta must be a number');
  if (!(rope.theta > 0) || !Number.isFinite(rope.theta)) throw new RangeError('tensorloom: rope.theta must be a finite number > 0');
  const dims = expectDim('rope.dims', rope.dims ?? D, 2, D);
  if (dims % 2 !== 0) throw new RangeError(`tensorloom: rope.dims must be even, got ${dims}`);
  return { theta: rope.theta, layout: rope.layout, dims };
}

/**
 * cos/sin of positions pos0 … pos0+n-1: table[(p·dims/2 + i)·2 + {0: cos, 1: sin}], with ggml's f32
 * angles (ggml_rope_cache_init): scale = powf(θ, -2/dims), angle_0 = pos, angle_{i+1} = angle_i·scale,
 * each step rounded to f32. cos/sin are the correctly rounded f32 values of the f32 angle (the C
 * library's cosf/sinf, which the native kernel calls as ggml does, are within 1 ulp of them).
 */
export function ropeTable(pos0: number, n: number, rope: Rope): Float32Array {
  const half = rope.dims / 2;
  const scale = Math.fround(Math.pow(Math.fround(rope.theta), Math.fround(-2 / rope.dims)));
  const table = new Float32Array(n * rope.dims);
  for (let p = 0; p < n; p++) {
    let angle = Math.fround(pos0 + p);
    for (let i = 0; i < half; i++) {
      table[p * rope.dims + 2 * i] = Math.cos(angle);
      table[p * rope.dims + 2 * i + 1] = Math.sin(angle);
      angle = Math.fround(angle * scale);
    }
  }
  return table;
}

/**
 * Rotates x[off .. off+D) in place with the cos/sin row at table[cs ..], as ggml's FMA builds do:
 * x0' = fma(x0, c, -(x1·s)), x1' = fma(x0, s, x1·c) (native/kernels/rope.h).
 */
export function rotateRow(x: Float32Array, off: number, table: Float32Array, cs: number, rope: Rope): void {
  const half = rope.dims / 2;
  for (let i = 0; i < half; i++) {
    const c = table[cs + 2 * i]!;
    const s = table[cs + 2 * i + 1]!;
    const i0 = rope.layout === 'interleaved' ? off + 2 * i : off + i;
    const i1 = rope.layout === 'interleaved' ? i0 + 1 : i0 + half;
    const x0 = x[i0]!;
    const x1 = x[i1]!;
    x[i0] = fmaf(x0, c, -Math.fround(x1 * s));
    x[i1] = fmaf(x0, s, Math.fround(x1 * c));
  }
}

function checkKv(k: unknown, v: unknown, n: number, shape: string): boolean {
  const f16 = k instanceof Uint16Array;
  if (!f16 && !(k instanceof Float32Array)) {
    const got = ArrayBuffer.isView(k) ? k.constructor.name : k === null ? 'null' : typeof k;
    throw new TypeError(`tensorloom: k must be a Float32Array or a Uint16Array (f16), got ${got}`);
  }
  expectArray('k', k, f16 ? Uint16Array : Float32Array);
  if (!(v instanceof (f16 ? Uint16Array : Float32Array))) {
    throw new TypeError(`tensorloom: v must be a ${f16 ? 'Uint16Array' : 'Float32Array'} like k`);
  }
  expectArray('v', v, f16 ? Uint16Array : Float32Array);
  expectLength('k', k as ArrayLike<number>, n, shape);
  expectLength('v', v as ArrayLike<number>, n, shape);
  return f16;
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

/** The checked, defaulted form of an attention call (shared with the native wrapper). */
export interface AttentionArgs {
  T: number;
  S: number;
  H: number;
  Hkv: number;
  D: number;
  posOffset: number;
  causal: boolean;
  scale: number;
  rope: Rope | null;
  f16: boolean;
  /** Packed-batch offsets [0, …, T], or null for one sequence. */
  sequences: Int32Array | null;
  /** 0 = no soft-capping. */
  softcap: number;
  /** [H, T, S] additive score bias, or null. */
  positionBias: Float32Array | null;
}

export function checkAttention(
  out: unknown,
  q: unknown,
  k: unknown,
  v: unknown,
  shape: AttentionShape,
): AttentionArgs {
  if (typeof shape !== 'object' || shape === null) throw new TypeError('tensorloom: shape must be an AttentionShape object');
  const T = expectDim('T', shape.T, 1, MAX_POSITIONS);
  const S = expectDim('S', shape.S, 1, MAX_POSITIONS);
  const H = expectDim('H', shape.H, 1, 2 ** 20);
  const Hkv = expectDim('Hkv', shape.Hkv, 1, 2 ** 20);
  const D = expectDim('D', shape.D, 1, MAX_HEAD_DIM);
  const posOffset = expectDim('posOffset', shape.posOffset, 0, MAX_POSITIONS);
  if (H % Hkv !== 0) throw new RangeError(`tensorloom: H (${H}) must be a multiple of Hkv (${Hkv})`);
  const causal = shape.causal ?? true;
  if (typeof causal !== 'boolean') throw new TypeError('tensorloom: causal must be a boolean');
  const scale = shape.scale ?? 1 / Math.sqrt(D);
  if (typeof scale !== 'number') throw new TypeError('tensorloom: scale must be a number');
  if (!Number.isFinite(scale)) throw new RangeError('tensorloom: scale must be a finite number');
  const rope = shape.rope === undefined ? null : checkRope(shape.rope, D);
  const softcap = shape.softcap ?? 0;
  if (typeof softcap !== 'number' || !(softcap >= 0) || !Number.isFinite(softcap)) throw new RangeError(`tensorloom: softcap must be a finite number ≥ 0, got ${String(softcap)}`);
  if ((causal || rope) && S < posOffset + T) {
    throw new RangeError(
      `tensorloom: S (${S}) must be >= posOffset + T (${posOffset + T}): the KV cache must hold the new positions`,
    );
  }
  const qShape = `[T=${T}, H=${H}, D=${D}]`;
  const kvShape = `[S=${S}, Hkv=${Hkv}, D=${D}]`;
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, T * H * D, qShape);
  expectArray('q', q, Float32Array);
  expectLength('q', q as Float32Array, T * H * D, qShape);
  const f16 = checkKv(k, v, S * Hkv * D, kvShape);
  const o = out as Float32Array;
  if (overlaps(o, q as Float32Array)) throw new RangeError('tensorloom: out must not overlap q');
  if (overlaps(o, k as ArrayBufferView)) throw new RangeError('tensorloom: out must not overlap k');
  if (overlaps(o, v as ArrayBufferView)) throw new RangeError('tensorloom: out must not overlap v');
  if (rope && (overlaps(k as ArrayBufferView, v as ArrayBufferView) || overlaps(k as ArrayBufferView, q as Float32Array))) {
    throw new RangeError('tensorloom: k must not overlap q or v when RoPE rotates it in place');
  }
  let sequences: Int32Array | null = null;
  if (shape.sequences !== undefined) {
    expectArray('sequences', shape.sequences, Int32Array);
    const b = shape.sequences;
    if (b.length < 2) throw new RangeError('tensorloom: sequences must hold at least 2 offsets [0, …, T]');
    if (S !== T || posOffset !== 0) throw new RangeError('tensorloom: a packed batch (sequences) needs S === T and posOffset 0');
    if (b[0] !== 0 || b[b.length - 1] !== T) throw new RangeError(`tensorloom: sequences must start at 0 and end at T (${T})`);
    for (let i = 1; i < b.length; i++) if (b[i]! < b[i - 1]!) throw new RangeError(`tensorloom: sequences must be non-decreasing (index ${i})`);
    sequences = b;
  }
  let positionBias: Float32Array | null = null;
  if (shape.positionBias !== undefined) {
    expectArray('positionBias', shape.positionBias, Float32Array);
    expectLength('positionBias', shape.positionBias, H * T * S, `[H=${H}, T=${T}, S=${S}]`);
    if (overlaps(o, shape.positionBias)) throw new RangeError('tensorloom: out must not overlap positionBias');
    if (rope && overlaps(k as ArrayBufferView, shape.positionBias)) {
      throw new RangeError('tensorloom: k must not overlap positionBias when RoPE rotates it in place');
    }
    positionBias = shape.positionBias;
  }
  return { T, S, H, Hkv, D, posOffset, causal, scale, rope, f16, sequences, softcap, positionBias };
}

function attention(
  out: Float32Array,
  q: Float32Array,
  k: Float32Array | Uint16Array,
  v: Float32Array | Uint16Array,
  shape: AttentionShape,
): void {
  const { T, S, H, Hkv, D, posOffset, causal, scale, rope, f16, sequences, softcap, positionBias } = checkAttention(out, q, k, v, shape);
  const G = H / Hkv;
  const kf = f16 ? null : (k as Float32Array);
  const vf = f16 ? null : (v as Float32Array);
  const kAt = f16 ? (i: number) => f16ToF32(k[i]!) : (i: number) => kf![i]!;
  const vAt = f16 ? (i: number) => f16ToF32(v[i]!) : (i: number) => vf![i]!;

  // Each query row t: the first key row of its sequence (k0) and its position in it (pos); a
  // plain call is one sequence with k0 = 0 and pos = posOffset + t.
  const k0 = new Int32Array(T);
  const pos = new Int32Array(T);
  const nkeys = new Int32Array(T).fill(S);
  if (sequences) {
    for (let i = 0; i + 1 < sequences.length; i++) {
      for (let t = sequences[i]!; t < sequences[i + 1]!; t++) {
        k0[t] = sequences[i]!;
        pos[t] = t - sequences[i]!;
        nkeys[t] = sequences[i + 1]! - sequences[i]!;
      }
    }
  } else for (let t = 0; t < T; t++) pos[t] = posOffset + t;

  let table: Float32Array | null = null;
  let tablePos0 = posOffset;
  if (rope) {
    tablePos0 = sequences ? 0 : posOffset;
    table = ropeTable(tablePos0, sequences ? Math.max(...nkeys) : T, rope);
    const row = new Float32Array(D);
    for (let t = 0; t < T; t++) {
      for (let hk = 0; hk < Hkv; hk++) {
        const off = ((k0[t]! + pos[t]!) * Hkv + hk) * D;
        const at = (pos[t]! - tablePos0) * rope.dims;
        if (kf) {
          rotateRow(kf, off, table, at, rope);
        } else {
          for (let d = 0; d < D; d++) row[d] = f16ToF32(k[off + d]!);
          rotateRow(row, 0, table, at, rope);
          for (let d = 0; d < D; d++) k[off + d] = f32ToF16(row[d]!);
        }
      }
    }
  }

  const qr = new Float32Array(D);
  const acc = new Float64Array(D);
  for (let t = 0; t < T; t++) {
    const first = k0[t]!;
    const last = first + (causal ? pos[t]! : nkeys[t]! - 1);
    for (let h = 0; h < H; h++) {
      const qoff = (t * H + h) * D;
      for (let d = 0; d < D; d++) qr[d] = q[qoff + d]!;
      if (rope && table) rotateRow(qr, 0, table, (pos[t]! - tablePos0) * rope.dims, rope);
      const hk = Math.floor(h / G);
      const biasRow = (h * T + t) * S;
      let m = -Infinity;
      let l = 0;
      acc.fill(0);
      for (let s = first; s <= last; s++) {
        const koff = (s * Hkv + hk) * D;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qr[d]! * kAt(koff + d);
        dot *= scale;
        if (softcap > 0) dot = softcap * Math.tanh(dot / softcap);
        if (positionBias) dot += positionBias[biasRow + s]!;
        if (dot > m) {
          const alpha = Math.exp(m - dot);
          l *= alpha;
          for (let d = 0; d < D; d++) acc[d]! *= alpha;
          m = dot;
        }
        const p = Math.exp(dot - m);
        l += p;
        for (let d = 0; d < D; d++) acc[d]! += p * vAt(koff + d);
      }
      for (let d = 0; d < D; d++) out[qoff + d] = acc[d]! / l;
    }
  }
}

function rope(x: Float32Array, T: number, nHeads: number, D: number, posOffset: number, options: RopeOptions): void {
  expectDim('T', T, 0, MAX_POSITIONS);
  expectDim('nHeads', nHeads, 1, 2 ** 20);
  expectDim('D', D, 2, MAX_HEAD_DIM);
  expectDim('posOffset', posOffset, 0, MAX_POSITIONS);
  const r = checkRope(options, D);
  expectArray('x', x, Float32Array);
  expectLength('x', x, T * nHeads * D, `[T=${T}, nHeads=${nHeads}, D=${D}]`);
  const table = ropeTable(posOffset, T, r);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHeads; h++) rotateRow(x, (t * nHeads + h) * D, table, t * r.dims, r);
  }
}

export const jsAttention: AttentionOps = { attention, rope };
