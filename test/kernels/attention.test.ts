/**
 * Fused attention and RoPE: every native ISA path (1 and 2 threads) and the JS baseline against
 * a naive materialized reference written here (scores matrix + mask + softmax + V, in f64).
 *
 * Tolerances: f32 KV 2e-5 absolute + 1e-4 relative on the outputs (f32 accumulation against an
 * f64 reference; outputs are averages of values in [-1, 1]). f16 KV: the reference reads the same
 * f16 values, so the same tolerance; with RoPE on an f16 cache the kernel rounds the rotated keys
 * to f16 (as the cache stores them), so the reference does too.
 */
import { describe, expect, it } from 'vitest';
import type { AttentionShape, Backend, RopeOptions } from '../../ts/index.js';
import { expectClose, halfToNumber, js, native, numberToHalf, randomArray, variants, withVariant } from './variants.js';

// ── the reference ────────────────────────────────────────────────────────────────────────────

/**
 * Rotation of one head vector at position pos, in f64 from ggml's f32 angles (pos, then ×
 * f32(θ^(-2/dims)) per pair, each step rounded to f32: the angles llama.cpp and our kernels use;
 * rope-ggml.test.ts checks the kernels' bits and the distance to exact angles).
 */
function refRotate(x: number[], pos: number, rope: RopeOptions): number[] {
  const D = x.length;
  const dims = rope.dims ?? D;
  const y = x.slice();
  const scale = Math.fround(Math.pow(Math.fround(rope.theta), Math.fround(-2 / dims)));
  let angle = Math.fround(pos);
  for (let i = 0; i < dims / 2; i++) {
    const [a, b] = rope.layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, i + dims / 2];
    y[a] = x[a]! * Math.cos(angle) - x[b]! * Math.sin(angle);
    y[b] = x[a]! * Math.sin(angle) + x[b]! * Math.cos(angle);
    angle = Math.fround(angle * scale);
  }
  return y;
}

type Kv = Float32Array | Uint16Array;
const valueAt = (a: Kv, i: number) => (a instanceof Uint16Array ? halfToNumber(a[i]!) : a[i]!);

/** Naive attention: materializes scores[T][S] per head, masks, softmaxes, multiplies by V. */
function referenceAttention(q: Float32Array, k: Kv, v: Kv, s: AttentionShape): { out: Float64Array; k: number[][][] } {
  const { T, S, H, Hkv, D, posOffset } = s;
  const causal = s.causal ?? true;
  const scale = s.scale ?? 1 / Math.sqrt(D);
  // Keys as the cache holds them after the call: rows [posOffset, posOffset+T) rotated.
  const keys: number[][][] = [];
  for (let j = 0; j < S; j++) {
    keys.push([]);
    for (let hk = 0; hk < Hkv; hk++) {
      let row = Array.from({ length: D }, (_, d) => valueAt(k, (j * Hkv + hk) * D + d));
      if (s.rope && j >= posOffset && j < posOffset + T) {
        row = refRotate(row, j, s.rope);
        if (k instanceof Uint16Array) row = row.map((x) => halfToNumber(numberToHalf(Math.fround(x))));
      }
      keys[j]!.push(row);
    }
  }
  const out = new Float64Array(T * H * D);
  for (let h = 0; h < H; h++) {
    const hk = Math.floor(h / (H / Hkv));
    for (let t = 0; t < T; t++) {
      let qr = Array.from(q.subarray((t * H + h) * D, (t * H + h + 1) * D));
      if (s.rope) qr = refRotate(qr, posOffset + t, s.rope);
      const scores = new Float64Array(S);
      for (let j = 0; j < S; j++) {
        const visible = !causal || j <= posOffset + t;
        let dot = 0;
        for (let d = 0; d < D; d++) dot += qr[d]! * keys[j]![hk]![d]!;
        const x = dot * scale;
        const capped = s.softcap ? s.softcap * Math.tanh(x / s.softcap) : x;
        const bias = s.positionBias ? s.positionBias[(h * T + t) * S + j]! : 0;
        scores[j] = !visible ? -Infinity : capped + bias;
      }
      const mx = Math.max(...scores);
      let sum = 0;
      for (let j = 0; j < S; j++) sum += (scores[j] = Math.exp(scores[j]! - mx));
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += (scores[j]! / sum) * valueAt(v, (j * Hkv + hk) * D + d);
        out[(t * H + h) * D + d] = acc;
      }
    }
  }
  return { out, k: keys };
}

/**
 * A packed batch: each sequence on its own through the plain reference (posOffset 0), so masking
 * across sequences and the per-sequence RoPE positions are checked by construction.
 */
function referencePacked(q: Float32Array, k: Kv, v: Kv, s: AttentionShape): { out: Float64Array; k: number[][][] } {
  const { H, Hkv, D } = s;
  const b = s.sequences!;
  const out = new Float64Array(s.T * H * D);
  const keys: number[][][] = [];
  for (let i = 0; i + 1 < b.length; i++) {
    const [a, e] = [b[i]!, b[i + 1]!];
    if (e === a) continue;
    const { sequences: _drop, positionBias: fullBias, ...plain } = s;
    // The sequence's own block of the [H, T, S] bias, as an [H, n, n] bias of its own.
    const n = e - a;
    const bias = fullBias ? new Float32Array(H * n * n) : undefined;
    if (bias && fullBias) {
      for (let h = 0; h < H; h++)
        for (let t = 0; t < n; t++)
          for (let j = 0; j < n; j++) bias[(h * n + t) * n + j] = fullBias[(h * s.T + a + t) * s.S + a + j]!;
    }
    const r = referenceAttention(q.slice(a * H * D, e * H * D), k.slice(a * Hkv * D, e * Hkv * D), v.slice(a * Hkv * D, e * Hkv * D), { ...plain, T: n, S: n, posOffset: 0, ...(bias ? { positionBias: bias } : {}) });
    out.set(r.out, a * H * D);
    keys.push(...r.k);
  }
  return { out, k: keys };
}

// ── the cases ────────────────────────────────────────────────────────────────────────────────

interface Case {
  name: string;
  shape: AttentionShape;
  f16?: boolean;
  /** Fill shape.positionBias with seeded values in [-3, 3) (T5's bucket biases are of that size). */
  bias?: boolean;
}

const rope = (layout: 'interleaved' | 'half', dims?: number): RopeOptions => ({ theta: 10000, layout, ...(dims ? { dims } : {}) });

const cases: Case[] = [
  { name: 'MHA causal prefill', shape: { T: 37, S: 37, H: 3, Hkv: 3, D: 16, posOffset: 0 } },
  { name: 'GQA (4 query heads per KV head), blocked tiles', shape: { T: 20, S: 20, H: 8, Hkv: 2, D: 64, posOffset: 0 } },
  { name: 'position offset: a chunk after 87 cached positions', shape: { T: 13, S: 100, H: 4, Hkv: 2, D: 32, posOffset: 87 } },
  { name: 'S ≫ T, multi-query (Hkv = 1)', shape: { T: 3, S: 700, H: 4, Hkv: 1, D: 64, posOffset: 697 } },
  { name: 'decode T=1 against 129 positions', shape: { T: 1, S: 129, H: 6, Hkv: 3, D: 64, posOffset: 128 } },
  { name: 'decode T=1, D=8 GQA (stories260K shape)', shape: { T: 1, S: 40, H: 8, Hkv: 4, D: 8, posOffset: 39 } },
  { name: 'decode with a longer cache than used (S > posOffset + T)', shape: { T: 1, S: 90, H: 2, Hkv: 2, D: 64, posOffset: 50 } },
  { name: 'bidirectional, T < S, D=24', shape: { T: 9, S: 50, H: 2, Hkv: 1, D: 24, posOffset: 0, causal: false } },
  { name: 'bidirectional, T > S (blocked)', shape: { T: 70, S: 33, H: 2, Hkv: 2, D: 40, posOffset: 0, causal: false } },
  { name: 'several query tiles per head', shape: { T: 150, S: 150, H: 2, Hkv: 2, D: 64, posOffset: 0 } },
  { name: 'awkward head dims D=1', shape: { T: 7, S: 10, H: 2, Hkv: 1, D: 1, posOffset: 3 } },
  { name: 'awkward head dims D=17, blocked', shape: { T: 33, S: 40, H: 3, Hkv: 1, D: 17, posOffset: 7 } },
  { name: 'awkward head dims D=100', shape: { T: 5, S: 61, H: 2, Hkv: 2, D: 100, posOffset: 56 } },
  { name: 'more than 64 query heads per KV head', shape: { T: 2, S: 5, H: 130, Hkv: 1, D: 8, posOffset: 3 } },
  { name: 'KV rows 4 KiB apart (Hkv·D = 1024), blocked', shape: { T: 40, S: 50, H: 16, Hkv: 8, D: 128, posOffset: 10 } },
  { name: 'KV rows 4 KiB apart (Hkv·D = 1024), GQA decode', shape: { T: 1, S: 50, H: 16, Hkv: 8, D: 128, posOffset: 49 } },
  { name: 'custom scale', shape: { T: 9, S: 20, H: 2, Hkv: 1, D: 32, posOffset: 11, scale: 0.5 } },
  { name: 'f16 KV prefill', shape: { T: 40, S: 60, H: 4, Hkv: 2, D: 64, posOffset: 20 }, f16: true },
  { name: 'f16 KV decode', shape: { T: 1, S: 300, H: 4, Hkv: 4, D: 64, posOffset: 299 }, f16: true },
  // decode with at least 2 key blocks per thread: 2 threads split the keys and merge their softmax states
  { name: 'decode T=1, keys split between threads, GQA 4 per KV head', shape: { T: 1, S: 400, H: 8, Hkv: 2, D: 64, posOffset: 399 } },
  { name: 'decode T=1, keys split between threads, f16 KV, RoPE half', shape: { T: 1, S: 250, H: 4, Hkv: 4, D: 32, posOffset: 249, rope: rope('half') }, f16: true },
  { name: 'decode T=1, keys split between threads, 8 query heads per KV head (blocked tiles)', shape: { T: 1, S: 230, H: 16, Hkv: 2, D: 64, posOffset: 229 }, f16: true },
  { name: 'decode T=1, keys split between threads, 130 query heads on one KV head', shape: { T: 1, S: 200, H: 130, Hkv: 1, D: 8, posOffset: 199 }, f16: true },
  { name: 'f16 KV, D=20', shape: { T: 30, S: 30, H: 2, Hkv: 1, D: 20, posOffset: 0 }, f16: true },
  { name: 'RoPE interleaved', shape: { T: 17, S: 50, H: 4, Hkv: 2, D: 32, posOffset: 33, rope: rope('interleaved') } },
  { name: 'RoPE half', shape: { T: 17, S: 50, H: 4, Hkv: 2, D: 32, posOffset: 33, rope: rope('half') } },
  { name: 'RoPE half, partial dims=16', shape: { T: 20, S: 24, H: 2, Hkv: 1, D: 32, posOffset: 4, rope: rope('half', 16) } },
  { name: 'RoPE interleaved decode', shape: { T: 1, S: 64, H: 4, Hkv: 2, D: 64, posOffset: 63, rope: rope('interleaved') } },
  { name: 'RoPE interleaved, f16 KV', shape: { T: 24, S: 40, H: 4, Hkv: 2, D: 64, posOffset: 16, rope: rope('interleaved') }, f16: true },
  // packed batches of sequences (encoders: several texts in one call, no padding)
  { name: 'packed batch, bidirectional, lengths 5/17/1/0/40', shape: { T: 63, S: 63, H: 4, Hkv: 2, D: 32, posOffset: 0, causal: false, sequences: Int32Array.of(0, 5, 22, 23, 23, 63) } },
  { name: 'packed batch, bidirectional, MHA, a 130-row sequence (several tiles)', shape: { T: 140, S: 140, H: 2, Hkv: 2, D: 64, posOffset: 0, causal: false, sequences: Int32Array.of(0, 130, 140) } },
  { name: 'packed batch, bidirectional, decode-sized tiles (G=1, D=8)', shape: { T: 9, S: 9, H: 2, Hkv: 2, D: 8, posOffset: 0, causal: false, sequences: Int32Array.of(0, 1, 3, 9) } },
  { name: 'packed batch, causal with RoPE half (decoder embedders)', shape: { T: 50, S: 50, H: 4, Hkv: 1, D: 32, posOffset: 0, rope: rope('half'), sequences: Int32Array.of(0, 20, 21, 50) } },
  { name: 'packed batch, bidirectional RoPE interleaved, f16 KV', shape: { T: 45, S: 45, H: 2, Hkv: 1, D: 64, posOffset: 0, causal: false, rope: rope('interleaved'), sequences: Int32Array.of(0, 30, 45) }, f16: true },
  // Gemma 2's soft-capped scores (cap below the scores these inputs reach, so tanh bends them)
  { name: 'soft-capped scores, prefill', shape: { T: 20, S: 30, H: 4, Hkv: 2, D: 32, posOffset: 10, softcap: 2 } },
  { name: 'soft-capped scores, decode with RoPE half', shape: { T: 1, S: 40, H: 4, Hkv: 2, D: 32, posOffset: 39, softcap: 3, rope: rope('half') } },
  { name: 'soft-capped scores, f16 KV', shape: { T: 8, S: 20, H: 2, Hkv: 1, D: 16, posOffset: 12, softcap: 1.5 }, f16: true },
  { name: 'soft-capped scores, blocked tiles of 64 rows', shape: { T: 40, S: 60, H: 8, Hkv: 1, D: 24, posOffset: 20, softcap: 2.5 } },
  // additive position bias [H, T, S] (T5's relative position buckets: scale 1)
  { name: 'position bias, causal prefill, GQA', shape: { T: 20, S: 30, H: 4, Hkv: 2, D: 32, posOffset: 10 }, bias: true },
  { name: 'position bias, causal decode T=1, GQA D=8', shape: { T: 1, S: 40, H: 8, Hkv: 4, D: 8, posOffset: 39 }, bias: true },
  { name: 'position bias, decode T=1 against 129 positions', shape: { T: 1, S: 129, H: 6, Hkv: 3, D: 64, posOffset: 128 }, bias: true },
  { name: 'position bias, T5 encoder (bidirectional, scale 1)', shape: { T: 25, S: 25, H: 4, Hkv: 4, D: 16, posOffset: 0, causal: false, scale: 1 }, bias: true },
  { name: 'position bias, T5 decoder self-attention chunk (causal, scale 1, offset)', shape: { T: 6, S: 30, H: 4, Hkv: 4, D: 16, posOffset: 24, scale: 1 }, bias: true },
  { name: 'position bias, cross-attention decode (T=1, bidirectional)', shape: { T: 1, S: 37, H: 4, Hkv: 4, D: 16, posOffset: 0, causal: false, scale: 1 }, bias: true },
  { name: 'position bias, blocked tiles of 64 rows, D=24', shape: { T: 40, S: 60, H: 8, Hkv: 1, D: 24, posOffset: 20 }, bias: true },
  { name: 'position bias, several query tiles, bidirectional T > S', shape: { T: 150, S: 70, H: 2, Hkv: 2, D: 64, posOffset: 0, causal: false }, bias: true },
  { name: 'position bias, KV rows 4 KiB apart, GQA decode', shape: { T: 1, S: 50, H: 16, Hkv: 8, D: 128, posOffset: 49 }, bias: true },
  { name: 'position bias with RoPE half', shape: { T: 17, S: 50, H: 4, Hkv: 2, D: 32, posOffset: 33, rope: rope('half') }, bias: true },
  { name: 'position bias and soft-capping, f16 KV', shape: { T: 30, S: 45, H: 4, Hkv: 2, D: 32, posOffset: 15, softcap: 2 }, f16: true, bias: true },
  { name: 'position bias and soft-capping, decode', shape: { T: 1, S: 33, H: 4, Hkv: 1, D: 16, posOffset: 32, softcap: 3 }, bias: true },
  { name: 'position bias, packed batch, bidirectional, lengths 5/17/0/40', shape: { T: 62, S: 62, H: 4, Hkv: 2, D: 32, posOffset: 0, causal: false, sequences: Int32Array.of(0, 5, 22, 22, 62) }, bias: true },
  { name: 'position bias and soft-capping, decode with keys split between threads', shape: { T: 1, S: 300, H: 4, Hkv: 2, D: 32, posOffset: 299, softcap: 3 }, f16: true, bias: true },
  { name: 'position bias, cross-attention decode over 260 keys (bidirectional, split between threads)', shape: { T: 1, S: 260, H: 4, Hkv: 4, D: 16, posOffset: 0, causal: false, scale: 1 }, bias: true },
  { name: 'position bias, packed batch, causal', shape: { T: 30, S: 30, H: 2, Hkv: 1, D: 16, posOffset: 0, sequences: Int32Array.of(0, 1, 13, 30) }, bias: true },
];

function inputs(c: Case, seed: number) {
  const { T, S, H, Hkv, D } = c.shape;
  // Scaled up a little so the softmax is peaky (stresses the running max).
  const q = randomArray(T * H * D, seed, -2, 2);
  const kf = randomArray(S * Hkv * D, seed + 1, -2, 2);
  const vf = randomArray(S * Hkv * D, seed + 2);
  const k = c.f16 ? Uint16Array.from(kf, (x) => numberToHalf(x)) : kf;
  const v = c.f16 ? Uint16Array.from(vf, (x) => numberToHalf(x)) : vf;
  const shape: AttentionShape = c.bias ? { ...c.shape, positionBias: randomArray(H * T * S, seed + 3, -3, 3) } : c.shape;
  return { q, k, v, shape };
}

function checkCase(backend: Backend, c: Case, seed: number): void {
  const { q, k, v, shape } = inputs(c, seed);
  const ref = shape.sequences ? referencePacked(q, k, v, shape) : referenceAttention(q, k, v, shape);
  const out = new Float32Array(q.length).fill(NaN);
  const k0 = k.slice();
  backend.attention(out, q, k, v, shape);
  expectClose(out, ref.out, 2e-5, 1e-4, `${c.name} output`);
  // The cache after the call: rotated new rows (RoPE), untouched otherwise.
  const { S, Hkv, D } = c.shape;
  if (!c.shape.rope) {
    expect(k).toEqual(k0);
  } else {
    const after = Array.from({ length: S * Hkv * D }, (_, i) => valueAt(k, i));
    const expected = ref.k.flat(2);
    expectClose(after, expected, c.f16 ? 0 : 1e-6, c.f16 ? 2 ** -10 : 1e-6, `${c.name} rotated keys`);
  }
}

describe('attention: the JS baseline against the naive reference', () => {
  for (const c of cases) it(c.name, () => checkCase(js, c, 11));
});

for (const variant of variants()) {
  describe.skipIf(variant.skip !== undefined)(`attention: native ${variant.title}`, () => {
    for (const c of cases) it(c.name, () => withVariant(variant, () => checkCase(native, c, 11)));

    it('matches the JS baseline on a larger causal prefill (T=200, GQA, RoPE)', () => {
      const shape: AttentionShape = { T: 200, S: 260, H: 6, Hkv: 2, D: 64, posOffset: 60, rope: rope('half') };
      const q = randomArray(200 * 6 * 64, 5);
      const k = randomArray(260 * 2 * 64, 6);
      const v = randomArray(260 * 2 * 64, 7);
      const kj = k.slice();
      const a = new Float32Array(q.length);
      const b = new Float32Array(q.length);
      withVariant(variant, () => native.attention(a, q, k, v, shape));
      js.attention(b, q, kj, v, shape);
      expectClose(a, b, 2e-5, 1e-4, 'native vs js');
      expectClose(k, kj, 1e-6, 1e-6, 'rotated keys native vs js');
    });

    it('matches the scalar reference tile kernel and the JS baseline with bias and soft-capping (prefill and decode)', () => {
      for (const shape of [
        { T: 64, S: 100, H: 8, Hkv: 2, D: 40, posOffset: 36, softcap: 4 },
        { T: 1, S: 100, H: 8, Hkv: 2, D: 40, posOffset: 99, softcap: 4 },
        { T: 50, S: 77, H: 4, Hkv: 4, D: 16, posOffset: 0, causal: false, scale: 1 },
      ] satisfies AttentionShape[]) {
        const { T, S, H, Hkv, D } = shape;
        const s: AttentionShape = { ...shape, positionBias: randomArray(H * T * S, 21, -4, 4) };
        const q = randomArray(T * H * D, 22, -2, 2);
        const k = randomArray(S * Hkv * D, 23, -2, 2);
        const v = randomArray(S * Hkv * D, 24);
        const [a, ref, base] = [new Float32Array(q.length), new Float32Array(q.length), new Float32Array(q.length)];
        withVariant(variant, () => native.attention(a, q, k, v, s));
        withVariant({ ...variant, isa: 'scalar' }, () => native.attention(ref, q, k, v, s));
        js.attention(base, q, k, v, s);
        expectClose(a, ref, 2e-5, 1e-4, `${variant.isa} vs scalar (T=${T})`);
        expectClose(a, base, 2e-5, 1e-4, `${variant.isa} vs js (T=${T})`);
      }
    });

    it('reads views with a byte offset into larger buffers (subarrays) correctly', () => {
      const c = cases.find((x) => x.name.startsWith('GQA'))!;
      const { q, k, v } = inputs(c, 13);
      const ref = referenceAttention(q, k, v, c.shape).out;
      const embed = (a: Float32Array, at: number) => {
        const big = new Float32Array(a.length + at + 5).fill(NaN);
        big.set(a, at);
        return big.subarray(at, at + a.length);
      };
      const out = embed(new Float32Array(q.length), 3);
      withVariant(variant, () => native.attention(out, embed(q, 7), embed(k as Float32Array, 1), embed(v as Float32Array, 9), c.shape));
      expectClose(out, ref, 2e-5, 1e-4, 'subarray views');
    });

    it('rope op matches a hand-computed rotation of a small vector', () => {
      withVariant(variant, () => {
        // Position 1, θ = 100, D = 4: pair 0 turns by 1 rad, pair 1 by 100^(-1/2) = 0.1 rad.
        const [c1, s1, c2, s2] = [Math.cos(1), Math.sin(1), Math.cos(0.1), Math.sin(0.1)];
        const xi = Float32Array.of(0, 0, 0, 0, 1, 2, 3, 4);
        native.rope(xi, 2, 1, 4, 0, { theta: 100, layout: 'interleaved' }); // row 0 at pos 0, row 1 at pos 1
        expectClose(xi, [0, 0, 0, 0, c1 - 2 * s1, s1 + 2 * c1, 3 * c2 - 4 * s2, 3 * s2 + 4 * c2], 1e-6, 1e-6, 'interleaved');
        const xh = Float32Array.of(1, 2, 3, 4);
        native.rope(xh, 1, 1, 4, 1, { theta: 100, layout: 'half' }); // pairs (0,2) by 1 rad, (1,3) by 0.1 rad
        expectClose(xh, [c1 - 3 * s1, 2 * c2 - 4 * s2, s1 + 3 * c1, 2 * s2 + 4 * c2], 1e-6, 1e-6, 'half');
        const xp = Float32Array.of(1, 2, 3, 4, 5, 6);
        native.rope(xp, 1, 1, 6, 1, { theta: 100, layout: 'interleaved', dims: 2 }); // only pair (0,1), by 1 rad
        expectClose(xp, [c1 - 2 * s1, s1 + 2 * c1, 3, 4, 5, 6], 1e-6, 1e-6, 'partial');
      });
    });

    it('rope op matches the reference rotation and the JS baseline on many rows', () => {
      for (const r of [rope('interleaved'), rope('half'), rope('half', 6), { theta: 500000, layout: 'interleaved' as const }]) {
        const [T, nh, D, pos] = [37, 3, 10, 1000];
        const x = randomArray(T * nh * D, 3);
        const a = x.slice();
        const b = x.slice();
        withVariant(variant, () => native.rope(a, T, nh, D, pos, r));
        js.rope(b, T, nh, D, pos, r);
        const expected: number[] = [];
        for (let t = 0; t < T; t++)
          for (let h = 0; h < nh; h++) expected.push(...refRotate(Array.from(x.subarray((t * nh + h) * D, (t * nh + h + 1) * D)), pos + t, r));
        expectClose(a, expected, 2e-6, 1e-5, `native ${r.layout}`);
        expectClose(b, expected, 2e-6, 1e-5, `js ${r.layout}`);
      }
    });
  });
}

// ── bad calls ────────────────────────────────────────────────────────────────────────────────

describe.each([
  ['native', native],
  ['js', js],
] as const)('attention (%s) rejects bad calls with a named error', (_name, b) => {
  const shape: AttentionShape = { T: 2, S: 5, H: 4, Hkv: 2, D: 8, posOffset: 3 };
  const q = () => new Float32Array(2 * 4 * 8);
  const kv = () => new Float32Array(5 * 2 * 8);
  const call = (over: Partial<Record<'out' | 'q' | 'k' | 'v', unknown>>, s: unknown = shape) => () =>
    b.attention(
      (over.out ?? q()) as Float32Array,
      (over.q ?? q()) as Float32Array,
      (over.k ?? kv()) as Float32Array,
      (over.v ?? kv()) as Float32Array,
      s as AttentionShape,
    );

  it('wrong typed-array kinds → TypeError', () => {
    expect(call({ out: new Float64Array(64) })).toThrow(TypeError);
    expect(call({ out: new Float64Array(64) })).toThrow(/out must be a Float32Array/);
    expect(call({ q: [1, 2, 3] })).toThrow(/q must be a Float32Array/);
    expect(call({ k: new Int16Array(80) })).toThrow(/k must be a Float32Array or a Uint16Array/);
    expect(call({ v: new Uint16Array(80) })).toThrow(/v must be a Float32Array like k/);
    expect(call({}, null)).toThrow(TypeError);
    expect(call({}, { ...shape, causal: 1 })).toThrow(/causal must be a boolean/);
  });

  it('lengths that do not match the shape → RangeError naming the shape', () => {
    expect(call({ q: new Float32Array(63) })).toThrow(RangeError);
    expect(call({ q: new Float32Array(63) })).toThrow(/q has 63 elements, expected 64 \(shape \[T=2, H=4, D=8\]\)/);
    expect(call({ out: new Float32Array(65) })).toThrow(/out has 65 elements, expected 64/);
    expect(call({ k: new Float32Array(79) })).toThrow(/k has 79 elements, expected 80 \(shape \[S=5, Hkv=2, D=8\]\)/);
    expect(call({ v: new Float32Array(81) })).toThrow(/v has 81 elements/);
  });

  it('inconsistent dims → RangeError', () => {
    expect(call({}, { ...shape, Hkv: 3 })).toThrow(/H \(4\) must be a multiple of Hkv \(3\)/);
    expect(call({}, { ...shape, posOffset: 4 })).toThrow(/S \(5\) must be >= posOffset \+ T \(6\)/);
    expect(call({}, { ...shape, T: -1 })).toThrow(/T must be in/);
    expect(call({}, { ...shape, D: 8.5 })).toThrow(/D must be an integer/);
    expect(call({}, { ...shape, S: 2 ** 40 })).toThrow(RangeError);
    expect(call({}, { ...shape, T: 2 ** 31 - 1, H: 2 ** 20, D: 4096, S: 2 ** 31 - 1, posOffset: 0 })).toThrow(RangeError);
    expect(call({}, { ...shape, D: 'eight' })).toThrow(TypeError);
    expect(call({}, { ...shape, scale: Infinity })).toThrow(/scale must be a finite number/);
  });

  it('bad RoPE options → named errors', () => {
    expect(call({}, { ...shape, rope: { theta: 10000, layout: 'rotate' } })).toThrow(/rope.layout must be 'interleaved' or 'half', got 'rotate'/);
    expect(call({}, { ...shape, rope: { theta: 10000 } })).toThrow(TypeError);
    expect(call({}, { ...shape, rope: { theta: -1, layout: 'half' } })).toThrow(/rope.theta/);
    expect(call({}, { ...shape, rope: { theta: 10000, layout: 'half', dims: 3 } })).toThrow(/rope.dims must be even/);
    expect(call({}, { ...shape, rope: { theta: 10000, layout: 'half', dims: 10 } })).toThrow(/rope.dims must be in \[2, 8\]/);
    expect(() => b.rope(new Float32Array(8), 1, 1, 8, 0, { theta: 1e4, layout: 'sideways' as 'half' })).toThrow(/rope.layout/);
    expect(() => b.rope(new Float32Array(7), 1, 1, 8, 0, { theta: 1e4, layout: 'half' })).toThrow(/x has 7 elements, expected 8/);
  });

  it('bad packed-batch offsets → named errors', () => {
    const packed = { T: 2, S: 2, H: 4, Hkv: 2, D: 8, posOffset: 0, causal: false };
    const kv2 = () => new Float32Array(2 * 2 * 8);
    const callPacked = (seq: unknown, over: Partial<AttentionShape> = {}) => () =>
      b.attention(q(), q(), kv2(), kv2(), { ...packed, ...over, sequences: seq } as AttentionShape);
    expect(callPacked(Int32Array.of(0, 1, 2))).not.toThrow();
    expect(callPacked([0, 2])).toThrow(/sequences|seqBounds/);
    expect(callPacked(Int32Array.of(0, 2, 1, 2))).toThrow(/non-decreasing/);
    expect(callPacked(Int32Array.of(0, 1))).toThrow(/end at T \(2\)/);
    expect(callPacked(Int32Array.of(1, 2))).toThrow(/start at 0/);
    expect(callPacked(Int32Array.of(0))).toThrow(/at least 2 offsets/);
    expect(() => b.attention(q(), q(), kv(), kv(), { ...shape, sequences: Int32Array.of(0, 2) })).toThrow(/S == T|S === T/);
  });

  it('bad positionBias / softcap → named errors', () => {
    expect(call({}, { ...shape, positionBias: new Float32Array(2 * 4 * 5) })).not.toThrow();
    expect(call({}, { ...shape, positionBias: new Float32Array(39) })).toThrow(/positionBias has 39 elements, expected 40 \(shape \[H=4, T=2, S=5\]\)/);
    expect(call({}, { ...shape, positionBias: new Float64Array(40) })).toThrow(TypeError);
    expect(call({}, { ...shape, positionBias: new Float64Array(40) })).toThrow(/positionBias must be a Float32Array/);
    expect(call({}, { ...shape, positionBias: [0, 1] })).toThrow(/positionBias must be a Float32Array/);
    expect(call({}, { ...shape, softcap: -1 })).toThrow(/softcap must be a finite number/);
    expect(call({}, { ...shape, softcap: Infinity })).toThrow(/softcap must be a finite number/);
    const buf = new Float32Array(64 + 40);
    expect(call({ out: buf.subarray(0, 64) }, { ...shape, positionBias: buf.subarray(50, 90) })).toThrow(/out must not overlap positionBias/);
  });

  it('aliasing out with an input → RangeError', () => {
    const buf = new Float32Array(64 + 80);
    expect(call({ out: buf.subarray(0, 64), q: buf.subarray(32, 96) })).toThrow(/out must not overlap q/);
  });

  it('detached buffers → an error naming the argument, no crash', () => {
    const d = new Float32Array(64);
    structuredClone(d.buffer, { transfer: [d.buffer] });
    expect(call({ q: d })).toThrow(/q has a detached ArrayBuffer/);
  });
});
