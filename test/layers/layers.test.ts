/**
 * Each layer class, on each backend, against the naive materialized references in ./reference.ts:
 * random weights in every weight dtype, attention with GQA, both RoPE layouts, f32 and f16 KV
 * caches, decode one token at a time (KV cache) vs the from-scratch full-sequence reference.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend, DType, RopeLayout, Weights } from '../../ts/backend/types.js';
import { f32ArrayToF16, quantizeQ8_0 } from '../../ts/formats/dtype-convert.js';
import { Attention, Block, Embedding, KVCache, LayerNorm, Linear, MLP, RMSNorm, sequenceStep, Workspace } from '../../ts/layers/index.js';
import { Rng } from '../../ts/generate/rng.js';
import { concatRows } from '../../ts/models/weights.js';
import { Softcap } from '../../ts/layers/softcap.js';
import { dense, refAttention, refGeluTanh, refLayernorm, refLinear, refRmsnorm, refRope, refSilu } from './reference.js';

const rng = new Rng(2024);
const randn = (n: number, scale = 1): Float32Array => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * scale);

function weights(rows: number, cols: number, dtype: DType, scale = 0.3): Weights {
  const f = randn(rows * cols, scale);
  switch (dtype) {
    case 'f32':
      return { dtype, rows, cols, data: f };
    case 'f16':
      return { dtype, rows, cols, data: f32ArrayToF16(f) };
    case 'q8_0':
      return { dtype, rows, cols, data: quantizeQ8_0(f) };
    default:
      throw new Error(dtype);
  }
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function backends(): Array<[string, Backend | null]> {
  let native: Backend | null = null;
  try {
    native = getBackend('native');
  } catch {
    native = null;
  }
  return [
    ['js', getBackend('js')],
    ['native', native],
  ];
}

for (const [name, backend] of backends()) {
  describe.skipIf(!backend)(`layers on the ${name} backend${backend ? '' : ' (native addon not built: skipped)'}`, () => {
    const b = backend!;

    for (const dtype of ['f32', 'f16', 'q8_0'] as const) {
      it(`Linear (${dtype} weights, with bias) matches x·Wᵀ + b`, () => {
        const w = weights(48, 64, dtype);
        const bias = randn(48);
        const x = randn(5 * 64);
        const out = new Float32Array(5 * 48);
        new Linear(b, w, bias).forward(out, x, 5);
        expect(maxDiff(out, refLinear(x, 5, w, bias))).toBeLessThan(dtype === 'f32' ? 1e-4 : 2e-2);
        const one = new Float32Array(48);
        new Linear(b, w, bias).forward(one, x.subarray(0, 64), 1);
        expect(maxDiff(one, out.subarray(0, 48))).toBeLessThan(1e-5);
      });
    }

    it('Embedding looks up rows and rejects ids outside the table', () => {
      const t = weights(10, 32, 'f16');
      const out = new Float32Array(3 * 32);
      const e = new Embedding(b, t);
      e.forward(out, Int32Array.from([7, 0, 7]));
      const d = dense(t);
      expect(Array.from(out.subarray(0, 32))).toEqual(Array.from(d.subarray(7 * 32, 8 * 32)));
      expect(Array.from(out.subarray(32, 64))).toEqual(Array.from(d.subarray(0, 32)));
      expect(() => e.forward(new Float32Array(32), Int32Array.from([10]))).toThrow(/outside the embedding table/);
    });

    it('RMSNorm and LayerNorm match their formulas', () => {
      const x = randn(3 * 40, 2);
      const w = randn(40);
      const bias = randn(40);
      const o1 = new Float32Array(x.length);
      new RMSNorm(b, w, 1e-5).forward(o1, x, 3);
      expect(maxDiff(o1, refRmsnorm(x, 3, w, 1e-5))).toBeLessThan(1e-5);
      const o2 = new Float32Array(x.length);
      new LayerNorm(b, w, bias, 1e-5).forward(o2, x, 3);
      expect(maxDiff(o2, refLayernorm(x, 3, w, bias, 1e-5))).toBeLessThan(1e-5);
    });

    for (const kind of ['swiglu', 'geglu', 'gelu'] as const) {
      it(`MLP (${kind}) matches down(act(x)), batched and one token through the fused gate/up matrix`, () => {
        const dim = 32;
        const hidden = 64;
        const up = weights(hidden, dim, 'f32');
        const gate = weights(hidden, dim, 'f32');
        const down = weights(dim, hidden, 'f32');
        const x = randn(4 * dim);
        const ws = new Workspace(8);
        const gateUp = new Linear(b, concatRows([{ weight: gate, bias: null }, { weight: up, bias: null }]).weight);
        const make = (fused: boolean): MLP =>
          kind === 'gelu'
            ? new MLP(b, { kind, up: new Linear(b, up), down: new Linear(b, down) })
            : new MLP(b, { kind, gate: new Linear(b, gate), up: new Linear(b, up), down: new Linear(b, down), gateUp: fused ? gateUp : null });
        const out = new Float32Array(4 * dim);
        make(true).forward(out, x, 4, ws);
        const u = refLinear(x, 4, up);
        const g = refLinear(x, 4, gate);
        const act = kind === 'gelu' ? u.map(refGeluTanh) : g.map((v, i) => (kind === 'swiglu' ? refSilu(v) : refGeluTanh(v)) * u[i]!);
        const want = refLinear(act, 4, down);
        expect(maxDiff(out, want)).toBeLessThan(1e-4);
        // a single token takes the fused [gate | up] matrix (one matmul) where the MLP has one
        const one = new Float32Array(dim);
        make(true).forward(one, x.subarray(dim, 2 * dim), 1, ws);
        expect(maxDiff(one, want.subarray(dim, 2 * dim))).toBeLessThan(1e-4);
        // without the fused matrix: gate and up as one matmulTMany call
        const sep = new Float32Array(dim);
        make(false).forward(sep, x.subarray(dim, 2 * dim), 1, ws);
        expect(maxDiff(sep, want.subarray(dim, 2 * dim))).toBeLessThan(1e-4);
      });
    }

    it('Softcap: cap · tanh(x / cap) row by row, to f32 rounding', () => {
      const width = 37;
      const x = randn(3 * width, 60);
      const cap = 15;
      const y = x.slice();
      new Softcap(b, cap, width).apply(y, 3);
      const want = Array.from(x, (v) => cap * Math.tanh(v / cap));
      expect(maxDiff(y, want)).toBeLessThan(4e-6 * cap);
      expect(Math.max(...Array.from(y, Math.abs))).toBeLessThanOrEqual(cap);
      expect(() => new Softcap(b, 0, width)).toThrow(/softcap must be a finite number > 0, got 0/);
    });

    for (const layout of ['interleaved', 'half'] as RopeLayout[])
      for (const kv of ['f32', 'f16'] as const)
        for (const bias of [false, true]) {
          it(`Attention: GQA 4/2 heads, RoPE ${layout}, ${kv} KV cache${bias ? ', QKV bias' : ''}: prefill and token-by-token decode match the full-sequence reference`, () => {
            const H = 4;
            const Hkv = 2;
            const D = 16;
            const dim = H * D;
            const T = 9;
            const rope = { theta: 10000, layout };
            const lin = (rows: number, withBias: boolean) => new Linear(b, weights(rows, dim, 'f32'), withBias ? randn(rows, 0.2) : null);
            const attn = new Attention(b, { q: lin(H * D, bias), k: lin(Hkv * D, bias), v: lin(Hkv * D, bias), o: new Linear(b, weights(dim, H * D, 'f32')), nHeads: H, nKvHeads: Hkv, headDim: D, rope });
            const x = randn(T * dim);
            // reference
            const q = refLinear(x, T, attn.q.weight, attn.q.bias);
            const k = refLinear(x, T, attn.k!.weight, attn.k!.bias);
            const v = refLinear(x, T, attn.v!.weight, attn.v!.bias);
            refRope(q, T, H, D, 0, rope);
            refRope(k, T, Hkv, D, 0, rope);
            const want = refLinear(refAttention(q, k, v, T, H, Hkv, D), T, attn.o.weight);
            const tol = kv === 'f32' ? 1e-4 : 5e-3;
            // prefill: 4 rows, then 5 rows (a second batch over a partly filled cache)
            const ws = new Workspace(16);
            const cache = new KVCache({ layers: 1, maxSeq: 32, kvHeads: Hkv, headDim: D, dtype: kv });
            const out = new Float32Array(T * dim);
            attn.forward(out.subarray(0, 4 * dim), x.subarray(0, 4 * dim), sequenceStep(4, 0, cache), 0, ws);
            attn.forward(out.subarray(4 * dim), x.subarray(4 * dim), sequenceStep(5, 4, cache), 0, ws);
            expect(maxDiff(out, want)).toBeLessThan(tol);
            // decode one token at a time into a fresh cache
            const cache2 = new KVCache({ layers: 1, maxSeq: 32, kvHeads: Hkv, headDim: D, dtype: kv });
            const one = new Float32Array(dim);
            for (let t = 0; t < T; t++) {
              attn.forward(one, x.subarray(t * dim, (t + 1) * dim), sequenceStep(1, t, cache2), 0, ws);
              expect(maxDiff(one, want.subarray(t * dim, (t + 1) * dim))).toBeLessThan(tol);
            }
          });
        }

    it('fused single-token projections (rows [q | k | v], [gate | up]) give the same outputs as the separate ones', () => {
      const H = 4;
      const Hkv = 2;
      const D = 16;
      const dim = H * D;
      const lw = (rows: number) => ({ weight: weights(rows, dim, 'q8_0'), bias: randn(rows, 0.1) });
      const q = lw(H * D);
      const k = lw(Hkv * D);
      const v = lw(Hkv * D);
      const o = new Linear(b, weights(dim, H * D, 'f32'));
      const L = (w: { weight: Weights; bias: Float32Array | null }) => new Linear(b, w.weight, w.bias);
      const fusedQkv = concatRows([q, k, v]);
      const rope = { theta: 10000, layout: 'interleaved' as const };
      const plain = new Attention(b, { q: L(q), k: L(k), v: L(v), o, nHeads: H, nKvHeads: Hkv, headDim: D, rope });
      const fused = new Attention(b, { q: L(q), k: L(k), v: L(v), o, qkv: L(fusedQkv), nHeads: H, nKvHeads: Hkv, headDim: D, rope });
      const c1 = new KVCache({ layers: 1, maxSeq: 8, kvHeads: Hkv, headDim: D });
      const c2 = new KVCache({ layers: 1, maxSeq: 8, kvHeads: Hkv, headDim: D });
      const ws = new Workspace(4);
      for (let t = 0; t < 5; t++) {
        const x = randn(dim);
        const a = new Float32Array(dim);
        const f = new Float32Array(dim);
        plain.forward(a, x, sequenceStep(1, t, c1), 0, ws);
        fused.forward(f, x, sequenceStep(1, t, c2), 0, ws);
        expect(maxDiff(a, f)).toBeLessThan(1e-5);
      }
      const gate = lw(48);
      const up = lw(48);
      const down = new Linear(b, weights(dim, 48, 'f32'));
      const m1 = new MLP(b, { kind: 'swiglu', gate: L(gate), up: L(up), down });
      const m2 = new MLP(b, { kind: 'swiglu', gate: L(gate), up: L(up), down, gateUp: L(concatRows([gate, up])) });
      const x = randn(dim);
      const y1 = new Float32Array(dim);
      const y2 = new Float32Array(dim);
      m1.forward(y1, x, 1, ws);
      m2.forward(y2, x, 1, ws);
      expect(maxDiff(y1, y2)).toBeLessThan(1e-5);
    });

    it('single-token q/k/v and gate/up of separate matrices (one matmulTMany each) equal separate Linear calls bit for bit, token after token', () => {
      const H = 4;
      const Hkv = 2;
      const D = 32;
      const dim = H * D;
      const hidden = 96;
      const L = (w: Weights, bias: Float32Array | null = null) => new Linear(b, w, bias);
      const q = L(weights(H * D, dim, 'q8_0'), randn(H * D, 0.1));
      const k = L(weights(Hkv * D, dim, 'q8_0'));
      const v = L(weights(Hkv * D, dim, 'f16'), randn(Hkv * D, 0.1));
      const o = L(weights(dim, H * D, 'q8_0'));
      const att = new Attention(b, { q, k, v, o, nHeads: H, nKvHeads: Hkv, headDim: D, rope: { theta: 10000, layout: 'interleaved' } });
      const gate = L(weights(hidden, dim, 'q8_0'));
      const up = L(weights(hidden, dim, 'q8_0'));
      const down = L(weights(dim, hidden, 'q8_0'));
      const mlp = new MLP(b, { kind: 'swiglu', gate, up, down });
      const cache = new KVCache({ layers: 1, maxSeq: 8, kvHeads: Hkv, headDim: D });
      const refCache = new KVCache({ layers: 1, maxSeq: 8, kvHeads: Hkv, headDim: D });
      const ws = new Workspace(4);
      for (let t = 0; t < 4; t++) {
        const x = randn(dim);
        // reference: each projection by itself, then the same kernels
        const rq = new Float32Array(H * D);
        const rk = new Float32Array(Hkv * D);
        const rv = new Float32Array(Hkv * D);
        q.forward(rq, x, 1);
        k.forward(rk, x, 1);
        v.forward(rv, x, 1);
        const ratt = new Float32Array(H * D);
        att.attendCached(ratt, rq, rk, rv, 1, t, refCache, 0, new Workspace(1));
        refCache.length = t + 1;
        const want = new Float32Array(dim);
        o.forward(want, ratt, 1);
        const got = new Float32Array(dim);
        att.forward(got, x, sequenceStep(1, t, cache), 0, ws);
        cache.length = t + 1;
        expect(got).toEqual(want);
        const g = new Float32Array(hidden);
        const u = new Float32Array(hidden);
        gate.forward(g, x, 1);
        up.forward(u, x, 1);
        b.swiglu(g, g, u);
        const mlpWant = new Float32Array(dim);
        down.forward(mlpWant, g, 1);
        const mlpGot = new Float32Array(dim);
        mlp.forward(mlpGot, x, 1, ws);
        expect(mlpGot).toEqual(mlpWant);
      }
    });

    it('Attention refuses to write past the KV cache and checks projection shapes', () => {
      const D = 8;
      const l = (r: number, c: number) => new Linear(b, weights(r, c, 'f32'));
      const attn = new Attention(b, { q: l(16, 16), k: l(16, 16), v: l(16, 16), o: l(16, 16), nHeads: 2, nKvHeads: 2, headDim: D, rope: null });
      const cache = new KVCache({ layers: 1, maxSeq: 2, kvHeads: 2, headDim: D });
      expect(() => attn.forward(new Float32Array(16), new Float32Array(16), sequenceStep(1, 2, cache), 0, new Workspace(4))).toThrow(/beyond the KV cache/);
      expect(() => new Attention(b, { q: l(16, 16), k: l(8, 16), v: l(16, 16), o: l(16, 16), nHeads: 2, nKvHeads: 2, headDim: D, rope: null })).toThrow(/k projection/);
    });

    it('Block = x + attn(norm(x)), then + mlp(norm(·))', () => {
      const H = 2;
      const D = 16;
      const dim = H * D;
      const T = 3;
      const lin = (r: number, c: number) => new Linear(b, weights(r, c, 'f32'));
      const n1 = new RMSNorm(b, randn(dim), 1e-5);
      const n2 = new RMSNorm(b, randn(dim), 1e-5);
      const attn = new Attention(b, { q: lin(dim, dim), k: lin(dim, dim), v: lin(dim, dim), o: lin(dim, dim), nHeads: H, nKvHeads: H, headDim: D, rope: { theta: 10000, layout: 'interleaved' } });
      const mlp = new MLP(b, { kind: 'swiglu', gate: lin(48, dim), up: lin(48, dim), down: lin(dim, 48) });
      const block = new Block(b, n1, attn, n2, mlp);
      const x = randn(T * dim);
      const got = Float32Array.from(x);
      block.forward(got, sequenceStep(T, 0, new KVCache({ layers: 1, maxSeq: 8, kvHeads: H, headDim: D })), 0, new Workspace(8));
      // reference, composed from the references
      const h = refRmsnorm(x, T, n1.weight, 1e-5);
      const q = refLinear(h, T, attn.q.weight);
      const k = refLinear(h, T, attn.k!.weight);
      const v = refLinear(h, T, attn.v!.weight);
      refRope(q, T, H, D, 0, attn.rope!);
      refRope(k, T, H, D, 0, attn.rope!);
      const x1 = refLinear(refAttention(q, k, v, T, H, H, D), T, attn.o.weight).map((o, i) => o + x[i]!);
      const h2 = refRmsnorm(x1, T, n2.weight, 1e-5);
      const u = refLinear(h2, T, mlp.options.up.weight);
      const g = refLinear(h2, T, (mlp.options as { gate: Linear }).gate.weight);
      const want = refLinear(g.map((gi, i) => refSilu(gi) * u[i]!), T, mlp.options.down.weight).map((d, i) => d + x1[i]!);
      expect(maxDiff(got, want)).toBeLessThan(1e-4);
    });
  });
}

describe('Workspace', () => {
  it('hands out exact-length views, the same object for the same (name, T), and checks sizes', () => {
    const ws = new Workspace(4);
    const a = ws.rows('x', 1, 8);
    expect(a.length).toBe(8);
    expect(ws.rows('x', 1, 8)).toBe(a);
    expect(ws.rows('x', 3, 8).length).toBe(24);
    expect(() => ws.rows('x', 5, 8)).toThrow(/rows requested/);
    // another width (Gemma 4's sliding and global heads) gets a buffer of its own
    const c = ws.rows('x', 1, 9);
    expect(c.length).toBe(9);
    expect(c.buffer).not.toBe(a.buffer);
    expect(ws.rows('x', 1, 8)).toBe(a);
  });
});
