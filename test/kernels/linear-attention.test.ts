/**
 * Linear attention (native/kernels/linear_attention.h): every native ISA path (1 and 2 threads)
 * and the JS baseline against float64 references of the equations written here:
 * - the paper's rule as the masked quadratic form out_t = (φ(q_t)ᵀS₀ + Σ_{s≤t} (φ(q_t)·φ(k_s)) v_s)
 *   / (φ(q_t)·z₀ + Σ_{s≤t} φ(q_t)·φ(k_s) + eps) (no recurrence in it);
 * - the gated delta rule as the sequential recurrence of llama.cpp's ggml_gated_delta_net.
 * And the chunked prefill against the step-by-step recurrence (T calls of one token).
 *
 * Tolerances, relative to the largest magnitude m of the expected array: f32 against the f64
 * reference 1e-5·m + 1e-4·|x|; chunked against step-by-step 1e-5·m + 1e-5·|x| (the same f32
 * arithmetic summed in another order).
 */
import { describe, expect, it } from 'vitest';
import type { Backend, FeatureMap, GatedDeltaShape, LinearAttentionShape } from '../../ts/index.js';
import { expectClose, js, native, randomArray, variants, withVariant } from './variants.js';

const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);
function expectRel(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, what: string): void {
  expectClose(actual, expected, 1e-5 * maxAbs(expected), rel, what);
}

// ── references ──────────────────────────────────────────────────────────────────────────────

function phi(x: number, f: FeatureMap): number {
  return f === 'elu1' ? (x > 0 ? x + 1 : Math.exp(x)) : f === 'relu' ? Math.max(0, x) : x;
}

/** The paper's rule as the masked quadratic form, plus the final state as plain sums. */
function referenceLinear(q: Float32Array, k: Float32Array, v: Float32Array, state0: Float32Array, s: Required<Omit<LinearAttentionShape, 'chunk'>>) {
  const { T, H, Hkv, Dk, Dv, causal, featureMap: f, eps } = s;
  const G = H / Hkv;
  const per = Dk * Dv + Dk;
  const out = new Float64Array(T * H * Dv);
  for (let h = 0; h < H; h++) {
    const hk = Math.floor(h / G);
    for (let t = 0; t < T; t++) {
      const fq = Array.from({ length: Dk }, (_, i) => phi(q[(t * H + h) * Dk + i]!, f));
      const num = new Float64Array(Dv);
      let den = eps;
      for (let i = 0; i < Dk; i++) {
        for (let j = 0; j < Dv; j++) num[j] += fq[i]! * state0[hk * per + i * Dv + j]!;
        den += fq[i]! * state0[hk * per + Dk * Dv + i]!;
      }
      const last = causal ? t : T - 1;
      for (let u = 0; u <= last; u++) {
        let a = 0;
        for (let i = 0; i < Dk; i++) a += fq[i]! * phi(k[(u * Hkv + hk) * Dk + i]!, f);
        den += a;
        for (let j = 0; j < Dv; j++) num[j] += a * v[(u * Hkv + hk) * Dv + j]!;
      }
      for (let j = 0; j < Dv; j++) out[(t * H + h) * Dv + j] = num[j]! / den;
    }
  }
  const state = Float64Array.from(state0);
  for (let hk = 0; hk < Hkv; hk++) {
    for (let u = 0; u < T; u++) {
      for (let i = 0; i < Dk; i++) {
        const fk = phi(k[(u * Hkv + hk) * Dk + i]!, f);
        for (let j = 0; j < Dv; j++) state[hk * per + i * Dv + j] += fk * v[(u * Hkv + hk) * Dv + j]!;
        state[hk * per + Dk * Dv + i] += fk;
      }
    }
  }
  return { out, state };
}

/** The gated delta rule, token by token in f64; value head h reads key head h % Hk. */
function referenceDelta(q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, beta: Float32Array, state0: Float32Array, s: GatedDeltaShape) {
  const { T, Hk, Hv, Dk, Dv } = s;
  const scale = s.scale ?? 1 / Math.sqrt(Dk);
  const channel = g.length === T * Hv * Dk;
  const S = Float64Array.from(state0); // [Hv, Dv, Dk]: S[h][i][j] at h·Dv·Dk + j·Dk + i
  const out = new Float64Array(T * Hv * Dv);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < Hv; h++) {
      const kv = (i: number) => k[(t * Hk + (h % Hk)) * Dk + i]!;
      const qv = (i: number) => q[(t * Hk + (h % Hk)) * Dk + i]!;
      const at = (i: number, j: number) => h * Dv * Dk + j * Dk + i;
      for (let i = 0; i < Dk; i++) {
        const decay = Math.exp(channel ? g[(t * Hv + h) * Dk + i]! : g[t * Hv + h]!);
        for (let j = 0; j < Dv; j++) S[at(i, j)] *= decay;
      }
      const d = new Float64Array(Dv);
      for (let j = 0; j < Dv; j++) {
        let sk = 0;
        for (let i = 0; i < Dk; i++) sk += S[at(i, j)]! * kv(i);
        d[j] = beta[t * Hv + h]! * (v[(t * Hv + h) * Dv + j]! - sk);
      }
      for (let i = 0; i < Dk; i++) for (let j = 0; j < Dv; j++) S[at(i, j)] += kv(i) * d[j]!;
      for (let j = 0; j < Dv; j++) {
        let o = 0;
        for (let i = 0; i < Dk; i++) o += S[at(i, j)]! * qv(i);
        out[(t * Hv + h) * Dv + j] = scale * o;
      }
    }
  }
  return { out, state: S };
}

// ── inputs ──────────────────────────────────────────────────────────────────────────────────

interface LinearCase { name: string; shape: LinearAttentionShape }
const linearCases: LinearCase[] = [
  { name: 'elu1, causal, 37 tokens over chunks of 8, GQA 4→2', shape: { T: 37, H: 4, Hkv: 2, Dk: 16, Dv: 16, chunk: 8 } },
  { name: 'elu1, causal, Dk ≠ Dv (24, 40), odd sizes, one chunk', shape: { T: 20, H: 3, Hkv: 1, Dk: 24, Dv: 40 } },
  { name: 'relu, causal, chunks of 16', shape: { T: 50, H: 2, Hkv: 2, Dk: 32, Dv: 32, chunk: 16, featureMap: 'relu' } },
  { name: 'identity, causal (positive inputs)', shape: { T: 19, H: 2, Hkv: 1, Dk: 17, Dv: 9, chunk: 5, featureMap: 'identity' } },
  { name: 'elu1, non-causal', shape: { T: 23, H: 4, Hkv: 4, Dk: 16, Dv: 20, causal: false } },
  { name: 'relu, non-causal, chunks of 4', shape: { T: 13, H: 2, Hkv: 1, Dk: 8, Dv: 8, causal: false, featureMap: 'relu', chunk: 4 } },
  { name: 'decode: one token against a carried state, D = 128', shape: { T: 1, H: 2, Hkv: 1, Dk: 128, Dv: 128 } },
];

function full(s: LinearAttentionShape): Required<Omit<LinearAttentionShape, 'chunk'>> {
  return { causal: true, featureMap: 'elu1', eps: 1e-6, ...s } as Required<Omit<LinearAttentionShape, 'chunk'>>;
}

function linearInputs(s: LinearAttentionShape, seed: number) {
  const { T, H, Hkv, Dk, Dv } = s;
  const lo = s.featureMap === 'identity' ? 0.05 : -1;
  const q = randomArray(T * H * Dk, seed, lo, 1);
  const k = randomArray(T * Hkv * Dk, seed + 1, lo, 1);
  const v = randomArray(T * Hkv * Dv, seed + 2);
  // A carried state as earlier tokens would leave it: S from φ(k)vᵀ sums, z > 0.
  const state = new Float32Array(Hkv * (Dk * Dv + Dk));
  const r = randomArray(state.length, seed + 3);
  for (let hk = 0; hk < Hkv; hk++) {
    const b = hk * (Dk * Dv + Dk);
    for (let i = 0; i < Dk * Dv; i++) state[b + i] = 3 * r[b + i]!;
    for (let i = 0; i < Dk; i++) state[b + Dk * Dv + i] = 3 + 2 * r[b + Dk * Dv + i]!;
  }
  return { q, k, v, state };
}

interface DeltaCase { name: string; shape: GatedDeltaShape; channel?: boolean; /** log-decay range (default −1.5 … −0.01) */ g?: [number, number] }
const deltaCases: DeltaCase[] = [
  { name: 'scalar gate, 37 tokens over chunks of 8, grouped heads 2→4', shape: { T: 37, Hk: 2, Hv: 4, Dk: 16, Dv: 16, chunk: 8 } },
  { name: 'scalar gate, Dk ≠ Dv (24, 40), the default chunk', shape: { T: 21, Hk: 1, Hv: 3, Dk: 24, Dv: 40 } },
  { name: 'per-channel gate, chunks of 16, grouped 1→2', shape: { T: 40, Hk: 1, Hv: 2, Dk: 32, Dv: 32, chunk: 16 }, channel: true },
  { name: 'scalar gate, D = 128 (Qwen3.5 head), chunks of 64', shape: { T: 70, Hk: 2, Hv: 2, Dk: 128, Dv: 128, chunk: 64 } },
  { name: 'scalar gate, D = 128, the default chunk', shape: { T: 40, Hk: 1, Hv: 2, Dk: 128, Dv: 128 } },
  // log-decays summing past −80 inside a chunk: the pair decays take one exp each instead of Γ_r/Γ_s
  { name: 'scalar gate, strong decay (chunk sums < −80), chunks of 64', shape: { T: 100, Hk: 1, Hv: 2, Dk: 32, Dv: 24, chunk: 64 }, g: [-4, -1] },
  { name: 'per-channel gate, odd dims (17, 9)', shape: { T: 11, Hk: 1, Hv: 1, Dk: 17, Dv: 9, chunk: 4 }, channel: true },
  { name: 'decode: one token, D = 128, custom scale', shape: { T: 1, Hk: 2, Hv: 4, Dk: 128, Dv: 128, scale: 0.3 } },
];

function l2normRows(x: Float32Array, D: number): Float32Array {
  for (let r = 0; r < x.length / D; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += x[r * D + i]! ** 2;
    const inv = 1 / Math.sqrt(s + 1e-6);
    for (let i = 0; i < D; i++) x[r * D + i]! *= inv;
  }
  return x;
}

function deltaInputs(c: DeltaCase, seed: number) {
  const { T, Hk, Hv, Dk, Dv } = c.shape;
  const q = l2normRows(randomArray(T * Hk * Dk, seed), Dk);
  const k = l2normRows(randomArray(T * Hk * Dk, seed + 1), Dk);
  const v = randomArray(T * Hv * Dv, seed + 2);
  const g = randomArray(T * Hv * (c.channel ? Dk : 1), seed + 3, ...(c.g ?? [-1.5, -0.01])); // log-decays < 0
  const beta = randomArray(T * Hv, seed + 4, 0.05, 1);
  const state = randomArray(Hv * Dv * Dk, seed + 5, -0.5, 0.5);
  return { q, k, v, g, beta, state };
}

// ── checks ──────────────────────────────────────────────────────────────────────────────────

function checkLinear(be: Backend, c: LinearCase, seed: number): void {
  const { q, k, v, state } = linearInputs(c.shape, seed);
  const ref = referenceLinear(q, k, v, state, full(c.shape));
  const out = new Float32Array(c.shape.T * c.shape.H * c.shape.Dv).fill(NaN);
  be.linearAttention(out, q, k, v, state, c.shape);
  expectRel(out, ref.out, 1e-4, `${c.name}: output`);
  expectRel(state, ref.state, 1e-4, `${c.name}: state`);
}

function checkDelta(be: Backend, c: DeltaCase, seed: number): void {
  const { q, k, v, g, beta, state } = deltaInputs(c, seed);
  const ref = referenceDelta(q, k, v, g, beta, state, c.shape);
  const out = new Float32Array(c.shape.T * c.shape.Hv * c.shape.Dv).fill(NaN);
  be.gatedDeltaRule(out, q, k, v, g, beta, state, c.shape);
  expectRel(out, ref.out, 1e-4, `${c.name}: output`);
  expectRel(state, ref.state, 1e-4, `${c.name}: state`);
}

/** Runs the T tokens one call each (the decode path) and returns outputs and the final state. */
function stepwiseLinear(be: Backend, c: LinearCase, seed: number) {
  const { q, k, v, state } = linearInputs(c.shape, seed);
  const { T, H, Hkv, Dk, Dv } = c.shape;
  const out = new Float32Array(T * H * Dv);
  for (let t = 0; t < T; t++) {
    be.linearAttention(out.subarray(t * H * Dv, (t + 1) * H * Dv), q.slice(t * H * Dk, (t + 1) * H * Dk), k.slice(t * Hkv * Dk, (t + 1) * Hkv * Dk), v.slice(t * Hkv * Dv, (t + 1) * Hkv * Dv), state, { ...c.shape, T: 1 });
  }
  return { out, state };
}

function stepwiseDelta(be: Backend, c: DeltaCase, seed: number) {
  const { q, k, v, g, beta, state } = deltaInputs(c, seed);
  const { T, Hk, Hv, Dk, Dv } = c.shape;
  const G = c.channel ? Hv * Dk : Hv;
  const out = new Float32Array(T * Hv * Dv);
  for (let t = 0; t < T; t++) {
    const sl = (a: Float32Array, n: number) => a.slice(t * n, (t + 1) * n);
    be.gatedDeltaRule(out.subarray(t * Hv * Dv, (t + 1) * Hv * Dv), sl(q, Hk * Dk), sl(k, Hk * Dk), sl(v, Hv * Dv), sl(g, G), sl(beta, Hv), state, { ...c.shape, T: 1 });
  }
  return { out, state };
}

describe('linear attention: the JS baseline against the float64 references', () => {
  for (const c of linearCases) it(`paper rule: ${c.name}`, () => checkLinear(js, c, 21));
  for (const c of deltaCases) it(`gated delta: ${c.name}`, () => checkDelta(js, c, 31));
});

for (const variant of variants()) {
  describe.skipIf(variant.skip !== undefined)(`linear attention: native ${variant.title}`, () => {
    for (const c of linearCases) it(`paper rule: ${c.name}`, () => withVariant(variant, () => checkLinear(native, c, 21)));
    for (const c of deltaCases) it(`gated delta: ${c.name}`, () => withVariant(variant, () => checkDelta(native, c, 31)));

    it('paper rule: chunked prefill = step-by-step recurrence (≤ 1e-5 relative), across chunk boundaries', () => {
      withVariant(variant, () => {
        for (const c of linearCases.filter((x) => x.shape.causal !== false && x.shape.T > 1)) {
          const { q, k, v, state } = linearInputs(c.shape, 41);
          const out = new Float32Array(c.shape.T * c.shape.H * c.shape.Dv);
          native.linearAttention(out, q, k, v, state, c.shape);
          const step = stepwiseLinear(native, c, 41);
          expectRel(out, step.out, 1e-5, `${c.name}: chunked vs stepwise output`);
          expectRel(state, step.state, 1e-5, `${c.name}: chunked vs stepwise state`);
        }
      });
    });

    it('gated delta: chunked prefill = step-by-step recurrence (≤ 1e-5 relative), across chunk boundaries', () => {
      withVariant(variant, () => {
        for (const c of deltaCases.filter((x) => x.shape.T > 1)) {
          const { q, k, v, g, beta, state } = deltaInputs(c, 51);
          const out = new Float32Array(c.shape.T * c.shape.Hv * c.shape.Dv);
          native.gatedDeltaRule(out, q, k, v, g, beta, state, c.shape);
          const step = stepwiseDelta(native, c, 51);
          expectRel(out, step.out, 1e-5, `${c.name}: chunked vs stepwise output`);
          expectRel(state, step.state, 1e-5, `${c.name}: chunked vs stepwise state`);
        }
      });
    });

    it('matches the scalar reference path on a larger prefill (T=300, H=4, D=64)', () => {
      const lin: LinearAttentionShape = { T: 300, H: 4, Hkv: 2, Dk: 64, Dv: 64 };
      const del: DeltaCase = { name: 'big', shape: { T: 300, Hk: 2, Hv: 4, Dk: 64, Dv: 64 } };
      const run = (v: typeof variant) => {
        const a = linearInputs(lin, 61);
        const b = deltaInputs(del, 71);
        const oa = new Float32Array(300 * 4 * 64);
        const ob = new Float32Array(300 * 4 * 64);
        withVariant(v, () => {
          native.linearAttention(oa, a.q, a.k, a.v, a.state, lin);
          native.gatedDeltaRule(ob, b.q, b.k, b.v, b.g, b.beta, b.state, del.shape);
        });
        return [oa, a.state, ob, b.state] as const;
      };
      const mine = run(variant);
      const ref = run({ isa: 'scalar', threads: 1, title: 'scalar' });
      mine.forEach((x, i) => expectRel(x, ref[i]!, 1e-5, `array ${i} vs the scalar path`));
    });
  });
}

describe('linear attention: bad input gives clear errors (native and JS)', () => {
  for (const be of [native, js]) {
    const s: LinearAttentionShape = { T: 2, H: 2, Hkv: 1, Dk: 4, Dv: 4 };
    const q = new Float32Array(16);
    const kv = new Float32Array(8);
    const st = new Float32Array(20);
    const out = new Float32Array(16);
    it(`${be.name}: zero-length sequences`, () => {
      expect(() => be.linearAttention(new Float32Array(0), new Float32Array(0), new Float32Array(0), new Float32Array(0), st, { ...s, T: 0 })).toThrow(/T must be at least 1: a zero-length sequence/);
      expect(() => be.gatedDeltaRule(new Float32Array(0), q, q, q, q, q, st, { T: 0, Hk: 1, Hv: 1, Dk: 4, Dv: 4 })).toThrow(/T must be at least 1/);
    });
    it(`${be.name}: a state of the wrong size (another layer's shape)`, () => {
      expect(() => be.linearAttention(out, q, kv, kv, new Float32Array(16), s)).toThrow(/state has 16 elements, expected 20/);
      expect(() => be.gatedDeltaRule(new Float32Array(8), kv, kv, new Float32Array(8), new Float32Array(2), new Float32Array(2), new Float32Array(20), { T: 2, Hk: 1, Hv: 1, Dk: 4, Dv: 4 })).toThrow(/state has 20 elements, expected 16 \(shape \[Hv=1, Dv=4, Dk=4\]\)/);
    });
    it(`${be.name}: Hv not a multiple of Hk, H not a multiple of Hkv`, () => {
      expect(() => be.gatedDeltaRule(new Float32Array(12), kv, kv, new Float32Array(12), new Float32Array(3), new Float32Array(3), new Float32Array(48), { T: 1, Hk: 2, Hv: 3, Dk: 4, Dv: 4 })).toThrow(/Hv \(3\) must be a multiple of Hk \(2\)/);
      expect(() => be.linearAttention(out, q, kv, kv, st, { ...s, H: 3, Hkv: 2 })).toThrow(/H \(3\) must be a multiple of Hkv \(2\)/);
    });
    it(`${be.name}: a gate of the wrong length, an unknown feature map, aliasing`, () => {
      expect(() => be.gatedDeltaRule(new Float32Array(8), kv, kv, new Float32Array(8), new Float32Array(3), new Float32Array(2), new Float32Array(16), { T: 2, Hk: 1, Hv: 1, Dk: 4, Dv: 4 })).toThrow(/g has 3 elements, expected 2 .* or 8/);
      expect(() => be.linearAttention(out, q, kv, kv, st, { ...s, featureMap: 'softmax' as FeatureMap })).toThrow(/featureMap must be 'elu1', 'relu' or 'identity', got 'softmax'/);
      expect(() => be.linearAttention(out, out, kv, kv, st, s)).toThrow(/out must not overlap q/);
      expect(() => be.linearAttention(out, q, kv, kv, st, { ...s, chunk: 0 })).toThrow(/chunk must be in \[1, 4096\]/);
    });
  }
});
