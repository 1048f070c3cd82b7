// Every CUDA kernel against the pure-JS baseline backend (plain loops) on random inputs, through
// the host-array API and through device-resident buffers. Needs a CUDA build and a GPU; skips
// with the reason otherwise (see no-cuda-build.test.ts for what runs without one).
//
// Tolerances are relative to the largest reference magnitude of each output:
//   f32 math 2e-5 (summation order differs), f16/bf16 tensor-core GEMM 3e-3 / 2e-2 (the f32
//   activations are rounded to the weights' 16-bit type before the MMA, as cuBLAS does),
//   attention 1e-4 (f32 accumulation, online vs two-pass softmax); 3e-3 for the tensor-core
//   prefill kernel (f16 KV), which rounds the scaled query and the probabilities to f16.
import { describe, expect, it } from 'vitest';
import { getBackend, type AttentionShape, type DType, type Weights } from '../../ts/index.js';
import { cudaStatus, getCudaBackend, type CudaBackend } from '../../ts/backend/cuda/index.js';

const status = cudaStatus();
const ref = getBackend('js');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (r() * 2 - 1) * scale;
  return x;
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

function expectClose(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  expect(got.length, what).toBe(want.length);
  const scale = Math.max(maxAbs(want), 1e-30);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!) / scale;
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `${what}: worst relative error at ${at}: got ${got[at]}, want ${want[at]}`).toBeLessThanOrEqual(tol);
}

function weights(dtype: DType, rows: number, cols: number, seed: number): Weights {
  const f = randomF32(rows * cols, seed);
  if (dtype === 'f32') return { dtype, rows, cols, data: f };
  if (dtype === 'q8_0') {
    const q = new Uint8Array((rows * cols * 34) / 32);
    ref.quantizeQ8_0(q, f);
    return { dtype, rows, cols, data: q };
  }
  const h = new Uint16Array(rows * cols);
  if (dtype === 'f16') ref.f32ToF16(h, f);
  else ref.f32ToBf16(h, f);
  return { dtype, rows, cols, data: h };
}

describe.skipIf(!status.available)(`CUDA kernels vs the JS baseline (skipped: ${status.reason ?? ''})`, () => {
  const cuda = (): CudaBackend => getCudaBackend();
  const gemmProviders = (): boolean[] => (cuda().useCublas(true) ? [false, true] : [false]);

  it('reports the device', () => {
    const info = cuda().info();
    expect(info.backend).toBe('cuda');
    expect(info.device.name.length).toBeGreaterThan(0);
    expect(info.gemm).toMatch(/^(cuBLAS|own kernels) \(.+\)$/);
    console.log(`CUDA device: ${info.device.name} (sm ${info.device.computeCapability}); GEMM: ${info.gemm}`);
  });

  describe('matmulT (out = a · wᵀ)', () => {
    const tol: Partial<Record<DType, number>> = { f32: 2e-5, f16: 3e-3, bf16: 2e-2, q8_0: 2e-5 };
    const shapes: [number, number, number][] = [
      // [M, N, K]: GEMV (M ≤ 8), tiled GEMM, odd sizes on every edge
      [1, 1, 1], [1, 17, 63], [1, 65, 1000], [3, 127, 256], [8, 64, 96], [9, 33, 17], [64, 65, 127], [130, 200, 96],
    ];
    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0'] as DType[]) {
      for (const [M, N, K0] of shapes) {
        const K = dtype === 'q8_0' ? Math.max(32, Math.ceil(K0 / 32) * 32) : K0;
        it(`${dtype} M=${M} N=${N} K=${K}`, () => {
          const w = weights(dtype, N, K, M * 7 + N);
          const a = randomF32(M * K, K + 1);
          const want = new Float32Array(M * N);
          const got = new Float32Array(M * N);
          ref.matmulT(want, a, w, M);
          // Our kernels, and cuBLAS too when it loads (it serves M > 8 for f32/f16/bf16).
          for (const viaCublas of gemmProviders()) {
            cuda().useCublas(viaCublas);
            cuda().matmulT(got.fill(NaN), a, w, M);
            // The 16-bit tensor-core paths round activations; GEMV (M ≤ 8) keeps them f32.
            expectClose(got, want, M <= 8 ? 2e-5 : tol[dtype]!, `${dtype} ${M}x${N}x${K} ${viaCublas ? 'cuBLAS' : 'own kernels'}`);
          }
          cuda().useCublas(true);
        });
      }
    }

    it('keeps weights resident and reuses them', () => {
      const c = cuda();
      const w = weights('f16', 96, 64, 5);
      const dw = c.uploadWeights(w);
      try {
        for (const M of [1, 4, 20]) {
          const a = randomF32(M * 64, M);
          const want = new Float32Array(M * 96);
          const got = new Float32Array(M * 96);
          ref.matmulT(want, a, w, M);
          c.matmulT(got, a, dw, M);
          expectClose(got, want, M <= 8 ? 2e-5 : 3e-3, `resident M=${M}`);
        }
      } finally {
        dw.buffer.free();
      }
    });
  });

  it('matmul (out = a · b, f32) on awkward shapes', () => {
    for (const [M, K, N] of [[1, 1, 1], [3, 17, 65], [64, 127, 33], [130, 64, 200]] as const) {
      const a = randomF32(M * K, 1);
      const b = randomF32(K * N, 2);
      const want = new Float32Array(M * N);
      const got = new Float32Array(M * N);
      ref.matmul(want, a, b, M, K, N);
      cuda().matmul(got, a, b, M, K, N);
      expectClose(got, want, 2e-5, `${M}x${K}x${N}`);
    }
  });

  describe('attention (fused, online softmax) vs the JS reference', () => {
    type Case = AttentionShape & { name: string };
    const cases: Case[] = [
      { name: 'prefill, GQA, interleaved RoPE', T: 17, S: 17, H: 4, Hkv: 2, D: 64, posOffset: 0, rope: { theta: 10000, layout: 'interleaved' } },
      { name: 'decode against 1000 cached keys (split S), half RoPE', T: 1, S: 1000, H: 8, Hkv: 2, D: 128, posOffset: 999, rope: { theta: 500000, layout: 'half' } },
      { name: 'chunk with position offset, MHA, no RoPE', T: 5, S: 65, H: 3, Hkv: 3, D: 32, posOffset: 60 },
      { name: 'bidirectional (encoder)', T: 33, S: 33, H: 2, Hkv: 1, D: 48, posOffset: 0, causal: false },
      { name: 'odd head dim, partial RoPE, custom scale', T: 7, S: 40, H: 6, Hkv: 2, D: 80, posOffset: 33, scale: 0.05, rope: { theta: 10000, layout: 'half', dims: 32 } },
      { name: 'D = 256 (large shared memory tile)', T: 9, S: 300, H: 2, Hkv: 1, D: 256, posOffset: 291, rope: { theta: 10000, layout: 'interleaved' } },
      { name: 'long decode, 8 groups (flash-decoding merge)', T: 1, S: 4096, H: 32, Hkv: 8, D: 128, posOffset: 4095 },
      { name: 'batched decode rows T=4 over 2048 keys', T: 4, S: 2048, H: 4, Hkv: 1, D: 64, posOffset: 2044, rope: { theta: 10000, layout: 'interleaved' } },
      // long enough for the tensor-core prefill kernel (f16 KV, D = 64/128, T·H/Hkv ≥ 32)
      { name: 'prefill T=300, GQA 8/2, D=128, half RoPE', T: 300, S: 300, H: 8, Hkv: 2, D: 128, posOffset: 0, rope: { theta: 10000, layout: 'half' } },
      { name: 'chunked prefill T=70 after 130 cached, D=64, interleaved RoPE', T: 70, S: 200, H: 4, Hkv: 4, D: 64, posOffset: 130, rope: { theta: 10000, layout: 'interleaved' } },
      { name: 'bidirectional T=100, D=64', T: 100, S: 100, H: 2, Hkv: 2, D: 64, posOffset: 0, causal: false },
      { name: 'prefill into a long cache (split S), T=16, G=4, D=128', T: 16, S: 3000, H: 16, Hkv: 4, D: 128, posOffset: 2984 },
    ];
    for (const kvDtype of ['f32', 'f16'] as const) {
      for (const c of cases) {
        it(`${kvDtype} KV: ${c.name}`, () => {
          const { name: _name, ...shape } = c;
          const { T, S, H, Hkv, D } = shape;
          const q = randomF32(T * H * D, T + S);
          const kf = randomF32(S * Hkv * D, S + 1);
          const vf = randomF32(S * Hkv * D, S + 2);
          const toKv = (x: Float32Array): Float32Array | Uint16Array => {
            if (kvDtype === 'f32') return x;
            const h = new Uint16Array(x.length);
            ref.f32ToF16(h, x);
            return h;
          };
          const kRef = toKv(kf);
          const kv0 = kRef.slice();
          const kGpu = kRef.slice();
          const v = toKv(vf);
          const want = new Float32Array(T * H * D);
          const got = new Float32Array(T * H * D);
          ref.attention(want, q, kRef, v, shape);
          // f16 KV: the tensor-core kernel (where it applies: Q and P rounded to f16) and the SIMT one
          for (const tensorCores of kvDtype === 'f16' ? [true, false] : [true]) {
            cuda().useTensorCoreAttention(tensorCores);
            kGpu.set(kv0); // each run rotates the new key rows again
            cuda().attention(got.fill(NaN), q, kGpu, v, shape);
            expectClose(got, want, kvDtype === 'f16' && tensorCores ? 3e-3 : 1e-4, `out (tensor cores ${tensorCores ? 'on' : 'off'})`);
          }
          cuda().useTensorCoreAttention(true);
          if (shape.rope) {
            // The new key rows were rotated in place identically (f16: after rounding, so ≤ 1 ulp apart).
            const a = new Float32Array(kGpu.length);
            const b = new Float32Array(kRef.length);
            if (kvDtype === 'f32') {
              a.set(kGpu as Float32Array);
              b.set(kRef as Float32Array);
            } else {
              ref.f16ToF32(a, kGpu as Uint16Array);
              ref.f16ToF32(b, kRef as Uint16Array);
            }
            expectClose(a, b, kvDtype === 'f32' ? 1e-6 : 1e-3, 'rotated k');
          }
        });
      }
    }
  });

  it('rope alone, both layouts and partial dims', () => {
    for (const rope of [{ theta: 10000, layout: 'interleaved' as const }, { theta: 1e6, layout: 'half' as const, dims: 16 }]) {
      const x = randomF32(5 * 3 * 64, 3);
      const want = x.slice();
      const got = x.slice();
      ref.rope(want, 5, 3, 64, 1234, rope);
      cuda().rope(got, 5, 3, 64, 1234, rope);
      expectClose(got, want, 1e-6, `rope ${rope.layout}`);
    }
  });

  it('rmsnorm and layernorm (with and without bias), including in place', () => {
    for (const [rows, dim] of [[1, 1], [3, 17], [7, 1000], [2, 4099]] as const) {
      const x = randomF32(rows * dim, dim, 3);
      const w = randomF32(dim, dim + 1);
      const b = randomF32(dim, dim + 2);
      const want = new Float32Array(rows * dim);
      const got = new Float32Array(rows * dim);
      ref.rmsnorm(want, x, w, rows, dim, 1e-5);
      cuda().rmsnorm(got, x, w, rows, dim, 1e-5);
      expectClose(got, want, 2e-5, `rmsnorm ${rows}x${dim}`);
      for (const bias of [b, null]) {
        ref.layernorm(want, x, w, bias, rows, dim, 1e-5);
        cuda().layernorm(got, x, w, bias, rows, dim, 1e-5);
        expectClose(got, want, 2e-5, `layernorm ${rows}x${dim} bias=${bias !== null}`);
      }
    }
    const x = randomF32(4 * 64, 9);
    const w = randomF32(64, 10);
    const want = new Float32Array(x.length);
    ref.rmsnorm(want, x, w, 4, 64, 1e-6);
    cuda().rmsnorm(x, x, w, 4, 64, 1e-6); // out aliases x
    expectClose(x, want, 2e-5, 'rmsnorm in place');
  });

  it('softmax with temperature', () => {
    for (const [rows, cols, temp] of [[1, 1, 1], [3, 1000, 0.7], [2, 32000, 1.3]] as const) {
      const x = randomF32(rows * cols, cols, 8);
      const want = new Float32Array(x.length);
      const got = new Float32Array(x.length);
      ref.softmax(want, x, rows, cols, temp);
      cuda().softmax(got, x, rows, cols, temp);
      expectClose(got, want, 1e-5, `softmax ${rows}x${cols}`);
    }
  });

  it('gelu (tanh, erf), silu, swiglu, add, mul', () => {
    const n = 10007;
    const x = randomF32(n, 1, 6);
    const y = randomF32(n, 2, 6);
    const want = new Float32Array(n);
    const got = new Float32Array(n);
    for (const approx of ['tanh', 'erf'] as const) {
      ref.gelu(want, x, approx);
      cuda().gelu(got, x, approx);
      expectClose(got, want, 1e-6, `gelu ${approx}`);
    }
    ref.silu(want, x);
    cuda().silu(got, x);
    expectClose(got, want, 1e-6, 'silu');
    ref.swiglu(want, x, y);
    cuda().swiglu(got, x, y);
    expectClose(got, want, 1e-6, 'swiglu');
    ref.add(want, x, y);
    cuda().add(got, x, y);
    expectClose(got, want, 0, 'add');
    ref.mul(want, x, y);
    cuda().mul(got, x, y);
    expectClose(got, want, 0, 'mul');
  });

  it('embedding gather for every table dtype', () => {
    const ids = new Int32Array([0, 5, 99, 5, 42]);
    for (const dtype of ['f32', 'f16', 'bf16', 'q8_0'] as DType[]) {
      const table = weights(dtype, 100, 64, 17);
      const want = new Float32Array(ids.length * 64);
      const got = new Float32Array(ids.length * 64);
      ref.embedding(want, table, ids);
      cuda().embedding(got, table, new Uint32Array(ids));
      expectClose(got, want, 0, `embedding ${dtype}`);
    }
  });

  it('argmax: first index on ties, NaN never wins, long inputs', () => {
    const c = cuda();
    const x = randomF32(50000, 4);
    x[31337] = 5;
    x[40000] = 5;
    expect(c.argmax(x)).toBe(ref.argmax(x));
    expect(c.argmax(x)).toBe(31337);
    expect(c.argmax(new Float32Array([NaN, -1, NaN, 3, 3]))).toBe(ref.argmax(new Float32Array([NaN, -1, NaN, 3, 3])));
    expect(c.argmax(new Float32Array([-Infinity, -Infinity]))).toBe(0);
  });

  it('a decode step on device buffers only: embedding → rmsnorm → matmulT → argmax', () => {
    const c = cuda();
    const dim = 128;
    const vocab = 1000;
    const table = weights('f16', vocab, dim, 21);
    const normW = randomF32(dim, 22);
    const head = weights('q8_0', vocab, dim, 23);
    const ids = new Int32Array([7]);
    // reference on the host
    const h = new Float32Array(dim);
    ref.embedding(h, table, ids);
    ref.rmsnorm(h, h, normW, 1, dim, 1e-5);
    const logits = new Float32Array(vocab);
    ref.matmulT(logits, h, head, 1);
    // device: nothing comes back but the index
    const dTable = c.uploadWeights(table);
    const dHead = c.uploadWeights(head);
    const dNorm = c.upload(normW);
    const x = c.alloc(dim * 4);
    const out = c.alloc(vocab * 4);
    try {
      c.device.embedding(x, dTable, ids);
      c.device.rmsnorm(x, x, dNorm, 1, dim, 1e-5);
      c.device.matmulT(out, x, dHead, 1);
      expect(c.device.argmax(out, vocab)).toBe(ref.argmax(logits));
      expectClose(out.read(new Float32Array(vocab)), logits, 2e-5, 'logits');
    } finally {
      for (const b of [dTable.buffer, dHead.buffer, dNorm, x, out]) b.free();
    }
  });

  it('an f16 KV cache resident on the device: prefill, then decode steps', () => {
    const c = cuda();
    const [H, Hkv, D, maxS] = [4, 2, 64, 16];
    const rope = { theta: 10000, layout: 'half' as const };
    const rowElems = Hkv * D;
    const kCache = c.alloc(maxS * rowElems * 2);
    const vCache = c.alloc(maxS * rowElems * 2);
    const kHost = new Uint16Array(maxS * rowElems);
    const vHost = new Uint16Array(maxS * rowElems);
    try {
      let pos = 0;
      for (const T of [5, 1, 1, 3]) {
        const q = randomF32(T * H * D, 100 + pos);
        const kNew = randomF32(T * rowElems, 200 + pos);
        const vNew = randomF32(T * rowElems, 300 + pos);
        const S = pos + T;
        // host reference: append f16 rows, attend (rotating the new keys in the cache)
        const half = new Uint16Array(T * rowElems);
        ref.f32ToF16(half, kNew);
        kHost.set(half, pos * rowElems);
        ref.f32ToF16(half, vNew);
        vHost.set(half, pos * rowElems);
        const want = new Float32Array(T * H * D);
        ref.attention(want, q, kHost.subarray(0, S * rowElems), vHost.subarray(0, S * rowElems), { T, S, H, Hkv, D, posOffset: pos, rope });
        // device: the same, with nothing but q/k/v of the step going up
        const [dq, dk, dv] = [c.upload(q), c.upload(kNew), c.upload(vNew)];
        const o = c.alloc(T * H * D * 4);
        c.device.castF32(kCache, pos * rowElems * 2, 'f16', dk, 0, T * rowElems);
        c.device.castF32(vCache, pos * rowElems * 2, 'f16', dv, 0, T * rowElems);
        c.device.attention(o, dq, kCache, vCache, { T, S, H, Hkv, D, posOffset: pos, rope, kvDtype: 'f16' });
        expectClose(o.read(new Float32Array(T * H * D)), want, 1e-4, `step at ${pos}`);
        for (const b of [dq, dk, dv, o]) b.free();
        pos = S;
      }
      const a = new Float32Array(pos * rowElems);
      const b = new Float32Array(pos * rowElems);
      ref.f16ToF32(a, kCache.read(new Uint16Array(pos * rowElems)));
      ref.f16ToF32(b, kHost.subarray(0, pos * rowElems));
      expectClose(a, b, 1e-3, 'rotated key cache');
    } finally {
      kCache.free();
      vCache.free();
    }
  });

  it('bad calls throw clear errors and the device stays usable', () => {
    const c = cuda();
    const small = c.alloc(16);
    const a = c.alloc(64 * 4);
    try {
      const w = c.uploadWeights(weights('f32', 8, 8, 1));
      expect(() => c.device.matmulT(small, a, w, 8)).toThrow(/out holds 16 bytes, expected at least 256/);
      expect(() => c.device.matmulT(a, small, w, 8)).toThrow(RangeError);
      w.buffer.free();
      expect(() => c.device.matmulT(a, a, w, 1)).toThrow(/already freed/);
      expect(() => c.matmulT(new Float32Array(3), new Float32Array(8), weights('f32', 8, 8, 1), 1)).toThrow(RangeError);
      expect(() => c.attention(new Float32Array(64), new Float32Array(64), new Float32Array(64), new Float32Array(64), { T: 1, S: 1, H: 1, Hkv: 1, D: 512, posOffset: 0 })).toThrow(RangeError);
      // CPU-only score modifiers and packed batches are refused by name, not ignored
      const s1 = { T: 1, S: 2, H: 1, Hkv: 1, D: 32, posOffset: 1 };
      const [o1, q1, kv1] = [new Float32Array(32), new Float32Array(32), new Float32Array(64)];
      expect(() => c.attention(o1, q1, kv1, kv1, { ...s1, positionBias: new Float32Array(2) })).toThrow(/CUDA backend's attention does not support AttentionShape.positionBias/);
      expect(() => c.attention(o1, q1, kv1, kv1, { ...s1, softcap: 30 })).toThrow(/does not support AttentionShape.softcap/);
      expect(() => c.device.attention(a, a, a, a, { ...s1, D: 8, positionBias: new Float32Array(2) })).toThrow(/does not support AttentionShape.positionBias/);
      expect(() => c.embedding(new Float32Array(8), weights('f32', 4, 8, 1), new Int32Array([4]))).toThrow(/outside the table/);
      expect(() => c.softmax(new Float32Array(4), new Float32Array(4), 1, 4, 0)).toThrow(/temperature/);
      expect(() => small.write(new Float32Array(5))).toThrow(RangeError);
      // still fine afterwards
      const x = randomF32(16, 1);
      const got = new Float32Array(16);
      c.add(got, x, x);
      const want = new Float32Array(16);
      ref.add(want, x, x);
      expectClose(got, want, 0, 'add after errors');
    } finally {
      small.free();
      a.free();
      small.free(); // idempotent
    }
  });
});
