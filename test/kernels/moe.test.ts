/**
 * Backend.moeFfn, the sparse MoE feed-forward (native/kernels/moe.cpp, ts/backend/js/moe.ts):
 * - the native kernel equals the JS routing code run on the native backend's own matmuls bit for bit
 *   (same kernels, same routing, same sum order), on every ISA path, 1 and 2 threads, f32 / f16 /
 *   q8_0 experts, for decode (T = 1) and prefill-sized T;
 * - both equal a float64 reference written row by row from the definition (softmax, top-k,
 *   renormalize, Σ w · down(silu(gate x) ⊙ up x)), which shares no code with either;
 * - the native kernel agrees with the pure-JS backend (its matmuls in plain loops);
 * - the MoE layer gives the same output from consecutive (GGUF) and separate (copied) experts;
 * - bad shapes give errors naming the argument.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/index.js';
import type { StackedExperts, Weights } from '../../ts/backend/types.js';
import { moeFfnWith } from '../../ts/backend/js/moe.js';
import { Linear } from '../../ts/layers/linear.js';
import { MoE } from '../../ts/layers/moe.js';
import { Workspace } from '../../ts/layers/workspace.js';
import { f16ToF32 } from '../../ts/backend/js/f16bits.js';
import { nativeAvailable } from '../models/helpers.js';
import { isaPaths, randomF32, rng, withIsa } from './helpers.js';

const E = 8;
const USED = 3;
const DIM = 64;
const HIDDEN = 32;

function experts(dtype: 'f32' | 'f16' | 'q8_0', seed: number): StackedExperts {
  const js = getBackend('js');
  const r = rng(seed);
  const make = (rows: number, cols: number): Weights => {
    const f = randomF32(rows * cols, r, 1 / Math.sqrt(cols));
    if (dtype === 'f32') return { dtype, rows, cols, data: f };
    if (dtype === 'f16') {
      const h = new Uint16Array(f.length);
      js.f32ToF16(h, f);
      return { dtype, rows, cols, data: h };
    }
    const q = new Uint8Array((f.length / 32) * 34);
    js.quantizeQ8_0(q, f);
    return { dtype, rows, cols, data: q };
  };
  return { gate: make(E * HIDDEN, DIM), up: make(E * HIDDEN, DIM), down: make(E * DIM, HIDDEN), experts: E };
}

/** f32 values of row r of w (f32 / f16 / q8_0). */
function rowF64(w: Weights, r: number): Float64Array {
  const out = new Float64Array(w.cols);
  if (w.dtype === 'f32') out.set((w.data as Float32Array).subarray(r * w.cols, (r + 1) * w.cols));
  else if (w.dtype === 'f16') for (let i = 0; i < w.cols; i++) out[i] = f16ToF32((w.data as Uint16Array)[r * w.cols + i]!);
  else {
    const f = new Float32Array(w.cols);
    getBackend('js').dequantizeQ8_0(f, (w.data as Uint8Array).subarray((r * w.cols / 32) * 34, ((r + 1) * w.cols / 32) * 34));
    out.set(f);
  }
  return out;
}

/** The definition, row by row in float64 (q8_0 weights dequantized; activations not quantized). */
function reference(x: Float32Array, logits: Float32Array, T: number, w: StackedExperts, used: number): Float64Array {
  const out = new Float64Array(T * DIM);
  const dot = (a: Float64Array, b: ArrayLike<number>) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  for (let t = 0; t < T; t++) {
    const l = Array.from(logits.subarray(t * E, (t + 1) * E));
    const m = Math.max(...l);
    const z = l.reduce((s, v) => s + Math.exp(v - m), 0);
    const p = l.map((v) => Math.exp(v - m) / z);
    const top = p.map((v, e) => [v, e] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, used);
    const sum = top.reduce((s, [v]) => s + v, 0);
    const xt = x.subarray(t * DIM, (t + 1) * DIM);
    for (const [pe, e] of top) {
      const h = new Float64Array(HIDDEN);
      for (let j = 0; j < HIDDEN; j++) {
        const g = dot(rowF64(w.gate, e * HIDDEN + j), xt);
        const u = dot(rowF64(w.up, e * HIDDEN + j), xt);
        h[j] = (g / (1 + Math.exp(-g))) * u;
      }
      for (let d = 0; d < DIM; d++) out[t * DIM + d]! += (pe / sum) * dot(rowF64(w.down, e * DIM + d), h);
    }
  }
  return out;
}

function relErr(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - ref[i]!));
    m = Math.max(m, Math.abs(ref[i]!));
  }
  return d / m;
}

function inputs(T: number, seed: number): { x: Float32Array; logits: Float32Array } {
  const r = rng(seed);
  return { x: randomF32(T * DIM, r), logits: randomF32(T * E, r, 3) };
}

describe('moeFfn: JS backend against the float64 definition', () => {
  for (const dtype of ['f32', 'f16', 'q8_0'] as const) {
    it(`${dtype} experts, T = 1 and 9`, () => {
      const w = experts(dtype, 5);
      for (const T of [1, 9]) {
        const { x, logits } = inputs(T, 100 + T);
        const ref = reference(x, logits, T, w, USED);
        const out = new Float32Array(T * DIM);
        getBackend('js').moeFfn(out, x, Float32Array.from(logits), T, w, USED);
        expect(relErr(out, ref), `${dtype} T=${T}`).toBeLessThan(dtype === 'f32' ? 1e-5 : 2e-2); // f16 / q8_0 round the activations as ggml does
      }
    });
  }
});

describe.skipIf(!nativeAvailable())('moeFfn: the native kernel', () => {
  const native = nativeAvailable() ? getBackend('native') : null!;
  for (const { isa, runnable, why } of isaPaths()) {
    it.skipIf(!runnable)(`${isa}${why}: equals the JS routing on the native matmuls bit for bit (f32, f16, q8_0; T = 1, 5, 70; 1 and 2 threads)`, () => {
      withIsa(isa, () => {
        for (const threads of [1, 2]) {
          native.setThreads(threads);
          for (const dtype of ['f32', 'f16', 'q8_0'] as const) {
            const w = experts(dtype, 9);
            for (const T of [1, 5, 70]) {
              const { x, logits } = inputs(T, T * 7 + threads);
              const a = new Float32Array(T * DIM);
              const b = new Float32Array(T * DIM);
              native.moeFfn(a, x, Float32Array.from(logits), T, w, USED);
              moeFfnWith(native, b, x, Float32Array.from(logits), T, w, USED);
              expect(a, `${dtype} T=${T} threads=${threads}`).toEqual(b);
              if (dtype === 'f32') expect(relErr(a, reference(x, logits, T, w, USED))).toBeLessThan(1e-5);
            }
          }
        }
        native.setThreads(0);
      });
    });
  }

  it('agrees with the pure-JS backend (f32 within 1e-6, q8_0 within 1e-5 relative)', () => {
    for (const dtype of ['f32', 'q8_0'] as const) {
      const w = experts(dtype, 21);
      const { x, logits } = inputs(33, 3);
      const a = new Float32Array(33 * DIM);
      const b = new Float32Array(33 * DIM);
      native.moeFfn(a, x, Float32Array.from(logits), 33, w, USED);
      getBackend('js').moeFfn(b, x, Float32Array.from(logits), 33, w, USED);
      expect(relErr(a, b), dtype).toBeLessThan(dtype === 'f32' ? 1e-6 : 1e-5);
    }
  });

  it('T = 0 writes nothing; every expert used (k = E) works', () => {
    const w = experts('f32', 4);
    native.moeFfn(new Float32Array(0), new Float32Array(0), new Float32Array(0), 0, w, USED);
    const { x, logits } = inputs(4, 8);
    const out = new Float32Array(4 * DIM);
    native.moeFfn(out, x, Float32Array.from(logits), 4, w, E);
    expect(relErr(out, reference(x, logits, 4, w, E))).toBeLessThan(1e-5);
  });

  it('bad shapes name the argument', () => {
    const w = experts('f32', 4);
    const { x, logits } = inputs(2, 8);
    const out = new Float32Array(2 * DIM);
    expect(() => native.moeFfn(out, x, logits, 2, w, E + 1)).toThrow(/used must be an integer in \[1, 8\], got 9/);
    expect(() => native.moeFfn(out, x, logits, 2, { ...w, down: { ...w.down, rows: E * DIM - 1 } }, USED)).toThrow(/down has 511 rows, not a multiple of the 8 experts/);
    expect(() => native.moeFfn(out, x, logits.subarray(1), 2, w, USED)).toThrow(/logits must be a Float32Array of at least 16 elements/);
    expect(() => native.moeFfn(out, x, logits, 2, { ...w, gate: { ...w.gate, data: (w.gate.data as Float32Array).subarray(1) } }, USED)).toThrow(/gate/);
  });
});

describe('MoE layer', () => {
  it('separate experts (copied into one stack) give the same output as one stacked tensor', () => {
    const backend = getBackend(nativeAvailable() ? 'native' : 'js');
    const w = experts('f32', 13);
    const slice = (m: Weights, e: number, rows: number, copy: boolean): Weights => {
      const data = (m.data as Float32Array).subarray(e * rows * m.cols, (e + 1) * rows * m.cols);
      return { dtype: 'f32', rows, cols: m.cols, data: copy ? Float32Array.from(data) : data };
    };
    const router = new Linear(backend, { dtype: 'f32', rows: E, cols: DIM, data: randomF32(E * DIM, rng(2)) });
    const layer = (copy: boolean) =>
      new MoE(backend, {
        router,
        used: USED,
        experts: Array.from({ length: E }, (_, e) => ({
          gate: new Linear(backend, slice(w.gate, e, HIDDEN, copy)),
          up: new Linear(backend, slice(w.up, e, HIDDEN, copy)),
          down: new Linear(backend, slice(w.down, e, DIM, copy)),
        })),
      });
    const { x } = inputs(6, 1);
    const a = new Float32Array(6 * DIM);
    const b = new Float32Array(6 * DIM);
    layer(false).forward(a, x, 6, new Workspace(16));
    layer(true).forward(b, x, 6, new Workspace(16));
    expect(a).toEqual(b);
    expect(a.some((v) => v !== 0)).toBe(true);
  });
});
