/**
 * The recurrent layers — LinearAttention (the paper's) and GatedDeltaNet (Qwen3.5 / Qwen3-Next) —
 * and the small ops GatedDeltaNet needs, on both backends, against float64 references written here
 * from the equations (for GatedDeltaNet: llama.cpp's qwen35 graph, step by step). Also: prefill then
 * decode equals one long prefill, snapshot/restore of the recurrent state, and clear errors for a
 * state from another layer.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend, Weights } from '../../ts/backend/types.js';
import { GatedDeltaNet, LinearAttention, Linear, RecurrentState, Workspace } from '../../ts/layers/index.js';
import { Rng } from '../../ts/generate/rng.js';

const rng = new Rng(77);
const randn = (n: number, lo = -1, hi = 1): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
const f32w = (rows: number, cols: number, scale = 0.3): Weights => ({ dtype: 'f32', rows, cols, data: randn(rows * cols, -scale, scale) });

function expectNear(a: ArrayLike<number>, e: ArrayLike<number>, rel: number, what: string): void {
  expect(a.length, what).toBe(e.length);
  let m = 0;
  for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(e[i]!));
  for (let i = 0; i < e.length; i++) {
    if (!(Math.abs(a[i]! - e[i]!) <= rel * m)) expect.fail(`${what}: element ${i} is ${a[i]}, expected ${e[i]} (tolerance ${rel} × max ${m})`);
  }
}

// ── f64 references ──────────────────────────────────────────────────────────────────────────

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const silu = (x: number) => x * sigmoid(x);
const softplus = (x: number) => (x > 20 ? x : Math.log(1 + Math.exp(x)));

/** y[T, out] = x[T, in] · Wᵀ. */
function mm(x: ArrayLike<number>, w: Weights, T: number): Float64Array {
  const W = w.data as Float32Array;
  const y = new Float64Array(T * w.rows);
  for (let t = 0; t < T; t++) for (let r = 0; r < w.rows; r++) {
    let s = 0;
    for (let c = 0; c < w.cols; c++) s += x[t * w.cols + c]! * W[r * w.cols + c]!;
    y[t * w.rows + r] = s;
  }
  return y;
}

interface GdnWeights {
  qkv: Weights; gate: Weights; beta: Weights; alpha: Weights; out: Weights;
  conv: Float32Array; dtBias: Float32Array; a: Float32Array; norm: Float32Array;
}

/** The whole Gated DeltaNet layer over a sequence of T tokens from a zero state, token by token. */
function refGatedDeltaNet(w: GdnWeights, x: Float32Array, T: number, Hk: number, Hv: number, D: number, K: number, eps: number): Float64Array {
  const C = 2 * Hk * D + Hv * D;
  const mixed = mm(x, w.qkv, T);
  const z = mm(x, w.gate, T);
  const br = mm(x, w.beta, T);
  const al = mm(x, w.alpha, T);
  const S = Array.from({ length: Hv }, () => new Float64Array(D * D)); // S[h][i·D + j], i key, j value
  const o = new Float64Array(T * Hv * D);
  for (let t = 0; t < T; t++) {
    const c = new Float64Array(C);
    for (let ch = 0; ch < C; ch++) {
      let s = 0;
      for (let j = 0; j < K; j++) {
        const tt = t - (K - 1) + j;
        if (tt >= 0) s += mixed[tt * C + ch]! * w.conv[ch * K + j]!;
      }
      c[ch] = silu(s);
    }
    const l2 = (off: number) => {
      let s = 0;
      for (let i = 0; i < D; i++) s += c[off + i]! ** 2;
      return Array.from({ length: D }, (_, i) => c[off + i]! / Math.sqrt(s + eps));
    };
    for (let h = 0; h < Hv; h++) {
      const q = l2((h % Hk) * D);
      const k = l2(Hk * D + (h % Hk) * D);
      const v = Array.from({ length: D }, (_, j) => c[2 * Hk * D + h * D + j]!);
      const g = softplus(al[t * Hv + h]! + w.dtBias[h]!) * w.a[h]!;
      const beta = sigmoid(br[t * Hv + h]!);
      const Sh = S[h]!;
      for (let i = 0; i < D * D; i++) Sh[i] *= Math.exp(g);
      for (let j = 0; j < D; j++) {
        let sk = 0;
        for (let i = 0; i < D; i++) sk += Sh[i * D + j]! * k[i]!;
        const d = beta * (v[j]! - sk);
        for (let i = 0; i < D; i++) Sh[i * D + j] += k[i]! * d;
      }
      const oh = new Float64Array(D);
      for (let j = 0; j < D; j++) {
        let s = 0;
        for (let i = 0; i < D; i++) s += Sh[i * D + j]! * q[i]!;
        oh[j] = s / Math.sqrt(D);
      }
      let ms = 0;
      for (let j = 0; j < D; j++) ms += oh[j]! ** 2;
      const inv = 1 / Math.sqrt(ms / D + eps);
      for (let j = 0; j < D; j++) o[(t * Hv + h) * D + j] = oh[j]! * inv * w.norm[j]! * silu(z[t * Hv * D + h * D + j]!);
    }
  }
  return mm(o, w.out, T);
}

/** The paper's causal linear attention layer, quadratic form, from a zero state. */
function refLinearAttention(wq: Weights, wk: Weights, wv: Weights, wo: Weights, x: Float32Array, T: number, H: number, Hkv: number, D: number): Float64Array {
  const q = mm(x, wq, T);
  const k = mm(x, wk, T);
  const v = mm(x, wv, T);
  const phi = (u: number) => (u > 0 ? u + 1 : Math.exp(u));
  const att = new Float64Array(T * H * D);
  for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) {
    const hk = Math.floor(h / (H / Hkv));
    let den = 1e-6;
    const num = new Float64Array(D);
    for (let s = 0; s <= t; s++) {
      let a = 0;
      for (let i = 0; i < D; i++) a += phi(q[(t * H + h) * D + i]!) * phi(k[(s * Hkv + hk) * D + i]!);
      den += a;
      for (let j = 0; j < D; j++) num[j] += a * v[(s * Hkv + hk) * D + j]!;
    }
    for (let j = 0; j < D; j++) att[(t * H + h) * D + j] = num[j]! / den;
  }
  return mm(att, wo, T);
}

// ── fixtures ────────────────────────────────────────────────────────────────────────────────

const dim = 48;
const [Hk, Hv, D, K, eps] = [2, 4, 16, 4, 1e-6];
const C = 2 * Hk * D + Hv * D;
const gdnW: GdnWeights = {
  qkv: f32w(C, dim), gate: f32w(Hv * D, dim), beta: f32w(Hv, dim), alpha: f32w(Hv, dim), out: f32w(dim, Hv * D),
  conv: randn(C * K, -0.6, 0.6), dtBias: randn(Hv, -0.5, 0.5), a: randn(Hv, -2, -0.2), norm: randn(D, 0.5, 1.5),
};

function makeGdn(b: Backend, chunk?: number): GatedDeltaNet {
  return new GatedDeltaNet(b, {
    qkv: new Linear(b, gdnW.qkv), gate: new Linear(b, gdnW.gate), beta: new Linear(b, gdnW.beta), alpha: new Linear(b, gdnW.alpha), out: new Linear(b, gdnW.out),
    conv: gdnW.conv, convKernel: K, dtBias: gdnW.dtBias, a: gdnW.a, norm: gdnW.norm,
    nKHeads: Hk, nVHeads: Hv, headKDim: D, headVDim: D, eps, ...(chunk ? { chunk } : {}),
  });
}

const [H, Hkv] = [4, 2];
const linW = { q: f32w(H * D, dim), k: f32w(Hkv * D, dim), v: f32w(Hkv * D, dim), o: f32w(dim, H * D) };
function makeLinear(b: Backend): LinearAttention {
  return new LinearAttention(b, { q: new Linear(b, linW.q), k: new Linear(b, linW.k), v: new Linear(b, linW.v), o: new Linear(b, linW.o), nHeads: H, nKvHeads: Hkv, headDim: D, chunk: 8 });
}

/** Runs `layer` over x in pieces of the given sizes (prefill, then decode steps), one state. */
function runPieces(layer: GatedDeltaNet | LinearAttention, x: Float32Array, pieces: number[]): Float32Array {
  const state = new RecurrentState([layer.stateSpec]);
  const ws = new Workspace(64);
  const out = new Float32Array(x.length);
  let t0 = 0;
  for (const n of pieces) {
    const y = new Float32Array(n * dim);
    layer.forward(y, x.subarray(t0 * dim, (t0 + n) * dim), n, t0, state, 0, ws);
    out.set(y, t0 * dim);
    t0 += n;
  }
  return out;
}

let native: Backend | null = null;
try {
  native = getBackend('native');
} catch {
  native = null;
}

for (const [name, b] of [['js', getBackend('js')], ['native', native]] as const) {
  describe.skipIf(!b)(`recurrent layers on the ${name} backend${b ? '' : ' (native addon not built: skipped)'}`, () => {
    const be = b!;
    const T = 30;
    const x = randn(T * dim);

    it('GatedDeltaNet: prefill over chunk boundaries and decode steps match the f64 recurrence of the layer', () => {
      const ref = refGatedDeltaNet(gdnW, x, T, Hk, Hv, D, K, eps);
      expectNear(runPieces(makeGdn(be, 8), x, [T]), ref, 1e-5, 'one prefill');
      expectNear(runPieces(makeGdn(be, 8), x, [19, 1, 1, 1, 5, 1, 1, 1]), ref, 1e-5, 'prefill 19, then decode and a short chunk');
      expectNear(runPieces(makeGdn(be), x, [1, 2, 27]), ref, 1e-5, 'short pieces (conv state shorter than the window)');
    });

    it('LinearAttention: prefill and decode match the quadratic form of the paper', () => {
      const ref = refLinearAttention(linW.q, linW.k, linW.v, linW.o, x, T, H, Hkv, D);
      expectNear(runPieces(makeLinear(be), x, [T]), ref, 1e-5, 'one prefill');
      expectNear(runPieces(makeLinear(be), x, [13, 1, 1, 15]), ref, 1e-5, 'prefill then decode');
    });

    it('a snapshot point inside a pass (beginSnapshotAt) keeps the state after those rows, outputs unchanged', () => {
      for (const make of [() => makeGdn(be, 8), () => makeLinear(be)]) {
        for (const at of [17, 20]) { // inside the second piece, and at its end
          const layer = make();
          const ws = new Workspace(64);
          const state = new RecurrentState([layer.stateSpec]);
          const y = new Float32Array(T * dim);
          state.beginSnapshotAt(at);
          layer.forward(y.subarray(0, 12 * dim), x.subarray(0, 12 * dim), 12, 0, state, 0, ws);
          layer.forward(y.subarray(12 * dim, 20 * dim), x.subarray(12 * dim, 20 * dim), 8, 12, state, 0, ws);
          state.endSnapshot(true);
          state.length = 20;
          expectNear(y.subarray(0, 20 * dim), runPieces(make(), x, [20]).subarray(0, 20 * dim), 1e-5, 'outputs');
          // what the kept snapshot holds: the state after `at` tokens, as a plain run leaves it
          const plain = new RecurrentState([layer.stateSpec]);
          layer.forward(new Float32Array(at * dim), x.subarray(0, at * dim), at, 0, plain, 0, ws);
          expect(state.rewindTo(at)).toBe(at);
          expectNear(state.layer(0, layer.stateSpec), plain.layer(0, layer.stateSpec), 1e-5, `kept state at ${at}`);
        }
      }
    });

    it('a snapshot at the prefix end resumes exactly like the uninterrupted sequence', () => {
      const layer = makeGdn(be);
      const ws = new Workspace(64);
      const state = new RecurrentState([layer.stateSpec]);
      const y = new Float32Array(10 * dim);
      layer.forward(y, x.subarray(0, 10 * dim), 10, 0, state, 0, ws);
      state.length = 10;
      const snap = state.snapshot();
      const first = new Float32Array(5 * dim);
      layer.forward(first, x.subarray(10 * dim, 15 * dim), 5, 10, state, 0, ws);
      layer.forward(new Float32Array(3 * dim), x.subarray(20 * dim, 23 * dim), 3, 15, state, 0, ws); // diverge
      state.restore(snap);
      expect(state.length).toBe(10);
      const again = new Float32Array(5 * dim);
      layer.forward(again, x.subarray(10 * dim, 15 * dim), 5, 10, state, 0, ws);
      expect(Array.from(again)).toEqual(Array.from(first));
      expect(state.bytes).toBe(4 * ((K - 1) * C + Hv * D * D));
    });

    it('a state from another layer or model is refused with an error naming both', () => {
      const gdn = makeGdn(be);
      const lin = makeLinear(be);
      const linState = new RecurrentState([lin.stateSpec]);
      expect(() => gdn.forward(new Float32Array(dim), x.subarray(0, dim), 1, 0, linState, 0, new Workspace(1))).toThrow(
        /RecurrentState layer 0 was made for LinearAttention\(H=4, Hkv=2, D=16, elu1\) .* not GatedDeltaNet\(Hk=2, Hv=4, Dk=16, Dv=16, conv 4×128\) .*: a state from another layer or model/,
      );
      expect(() => linState.restore(new RecurrentState([gdn.stateSpec]))).toThrow(/snapshot was taken from a state with other layers/);
      expect(() => new GatedDeltaNet(be, { ...makeGdn(be).o, norm: new Float32Array(3) })).toThrow(/GatedDeltaNet norm must be a Float32Array of 16/);
      expect(() => new GatedDeltaNet(be, { ...makeGdn(be).o, nKHeads: 3 })).toThrow(/value heads \(4\) must be a multiple of key heads \(3\)/);
    });

    // [T, C, K]: one channel block; several blocks (native: 256 channels each) with fewer tokens than
    // the state holds (the state shifts partly into itself); a wide kernel (K > 16).
    it.each([[9, 5, 4], [2, 600, 4], [5, 40, 18]])('conv1dCausal T=%i C=%i K=%i: prefill equals token-by-token with the rolling state, and the definition', (T2, C2, K2) => {
      const xs = randn(T2 * C2);
      const w = randn(C2 * K2);
      const st0 = randn((K2 - 1) * C2);
      const ref = new Float64Array(T2 * C2);
      for (let t = 0; t < T2; t++) for (let c = 0; c < C2; c++) {
        let s = 0;
        for (let j = 0; j < K2; j++) {
          const tt = t - (K2 - 1) + j; // input index; < 0 reads the initial state row K2-1+tt
          s += (tt >= 0 ? xs[tt * C2 + c]! : st0[(K2 - 1 + tt) * C2 + c]!) * w[c * K2 + j]!;
        }
        ref[t * C2 + c] = silu(s);
      }
      const st = st0.slice();
      const out = new Float32Array(T2 * C2);
      be.conv1dCausal(out, xs, st, w, T2, C2, K2, true);
      expectNear(out, ref, 1e-6, 'prefill');
      const stRef = Array.from({ length: (K2 - 1) * C2 }, (_, i) => {
        const row = T2 + Math.floor(i / C2); // row of in = state ++ x
        return row < K2 - 1 ? st0[row * C2 + (i % C2)]! : xs[(row - (K2 - 1)) * C2 + (i % C2)]!;
      });
      expect(Array.from(st)).toEqual(stRef);
      const st2 = st0.slice();
      const steps = new Float32Array(T2 * C2);
      for (let t = 0; t < T2; t++) be.conv1dCausal(steps.subarray(t * C2, (t + 1) * C2), xs.slice(t * C2, (t + 1) * C2), st2, w, 1, C2, K2, true);
      expectNear(steps, ref, 1e-6, 'token by token');
      expect(() => be.conv1dCausal(out, xs, new Float32Array(3), w, T2, C2, K2, true)).toThrow(new RegExp(`convState has 3 elements, expected ${(K2 - 1) * C2}`));
    });

    it('l2norm, rmsnormGated, deltaGates, sigmoidMul match their definitions', () => {
      const xs = randn(3 * 8);
      const zs = randn(3 * 8);
      const w = randn(8, 0.5, 1.5);
      const o = new Float32Array(24);
      be.l2norm(o, xs, 3, 8, 1e-6);
      const r = Array.from(xs, (v, i) => {
        const row = Math.floor(i / 8);
        let s = 0;
        for (let j = 0; j < 8; j++) s += xs[row * 8 + j]! ** 2;
        return v / Math.sqrt(s + 1e-6);
      });
      expectNear(o, r, 1e-6, 'l2norm');
      be.rmsnormGated(o, xs, zs, w, 3, 8, 1e-5);
      const rg = Array.from(xs, (v, i) => {
        const row = Math.floor(i / 8);
        let s = 0;
        for (let j = 0; j < 8; j++) s += xs[row * 8 + j]! ** 2;
        return (v / Math.sqrt(s / 8 + 1e-5)) * w[i % 8]! * silu(zs[i]!);
      });
      expectNear(o, rg, 1e-6, 'rmsnormGated');
      const [al, br, dt, a] = [randn(6, -30, 30), randn(6, -5, 5), randn(3), randn(3, -2, -0.1)];
      const g = new Float32Array(6);
      const beta = new Float32Array(6);
      be.deltaGates(g, beta, al, br, dt, a, 2, 3);
      expectNear(g, Array.from(al, (v, i) => softplus(v + dt[i % 3]!) * a[i % 3]!), 1e-6, 'g');
      expectNear(beta, Array.from(br, sigmoid), 1e-6, 'beta');
      const sm = new Float32Array(24);
      be.sigmoidMul(sm, xs, zs);
      expectNear(sm, Array.from(xs, (v, i) => v * sigmoid(zs[i]!)), 1e-6, 'sigmoidMul');
    });
  });
}
