/**
 * Linear attention in plain TypeScript: the baseline the native kernels are benchmarked against
 * and the fallback when the addon cannot load. Both rules run as the plain recurrence, one token
 * at a time, accumulating in f64 and storing the state in f32 (as the native state is); `chunk`
 * is accepted and checked but changes nothing here.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import type { FeatureMap, GatedDeltaShape, LinearAttentionOps, LinearAttentionShape } from '../types.js';

const MAX_DIM = 4096;
const MAX_TOKENS = 2 ** 31 - 1;
const FEATURE_MAPS: readonly FeatureMap[] = ['elu1', 'relu', 'identity'];

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

function expectNoOverlap(name: string, a: Float32Array, others: Record<string, Float32Array>): void {
  for (const [other, b] of Object.entries(others)) {
    if (overlaps(a, b)) throw new RangeError(`tensorloom: ${name} must not overlap ${other}`);
  }
}

function expectTokens(T: unknown): number {
  if (T === 0) throw new RangeError('tensorloom: T must be at least 1: a zero-length sequence has nothing to attend to');
  return expectDim('T', T, 1, MAX_TOKENS);
}

function f32(name: string, a: unknown, n: number, shape: string): Float32Array {
  expectArray(name, a, Float32Array);
  expectLength(name, a as Float32Array, n, shape);
  return a as Float32Array;
}

export interface LinearAttentionArgs {
  T: number; H: number; Hkv: number; Dk: number; Dv: number;
  causal: boolean; featureMap: FeatureMap; eps: number; chunk: number;
}

/** Checks a linearAttention call the way the native glue does; returns the shape with defaults. */
export function checkLinearAttention(out: unknown, q: unknown, k: unknown, v: unknown, state: unknown, shape: LinearAttentionShape): LinearAttentionArgs {
  if (typeof shape !== 'object' || shape === null) throw new TypeError('tensorloom: shape must be a LinearAttentionShape object');
  const T = expectTokens(shape.T);
  const H = expectDim('H', shape.H, 1, 2 ** 20);
  const Hkv = expectDim('Hkv', shape.Hkv, 1, 2 ** 20);
  const Dk = expectDim('Dk', shape.Dk, 1, MAX_DIM);
  const Dv = expectDim('Dv', shape.Dv, 1, MAX_DIM);
  if (H % Hkv !== 0) throw new RangeError(`tensorloom: H (${H}) must be a multiple of Hkv (${Hkv})`);
  const causal = shape.causal ?? true;
  if (typeof causal !== 'boolean') throw new TypeError('tensorloom: causal must be a boolean');
  const featureMap = shape.featureMap ?? 'elu1';
  if (typeof featureMap !== 'string') throw new TypeError("tensorloom: featureMap must be 'elu1', 'relu' or 'identity'");
  if (!FEATURE_MAPS.includes(featureMap)) {
    throw new RangeError(`tensorloom: featureMap must be 'elu1', 'relu' or 'identity', got '${String(featureMap)}'`);
  }
  const eps = shape.eps ?? 1e-6;
  if (typeof eps !== 'number') throw new TypeError('tensorloom: eps must be a number');
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError('tensorloom: eps must be a finite number >= 0');
  const chunk = expectDim('chunk', shape.chunk ?? 32, 1, 4096);
  const o = f32('out', out, T * H * Dv, `[T=${T}, H=${H}, Dv=${Dv}]`);
  const qq = f32('q', q, T * H * Dk, `[T=${T}, H=${H}, Dk=${Dk}]`);
  const kk = f32('k', k, T * Hkv * Dk, `[T=${T}, Hkv=${Hkv}, Dk=${Dk}]`);
  const vv = f32('v', v, T * Hkv * Dv, `[T=${T}, Hkv=${Hkv}, Dv=${Dv}]`);
  const st = f32('state', state, Hkv * (Dk * Dv + Dk), '[Hkv, Dk*Dv + Dk]: S then z per KV head');
  expectNoOverlap('out', o, { q: qq, k: kk, v: vv, state: st });
  expectNoOverlap('state', st, { q: qq, k: kk, v: vv });
  return { T, H, Hkv, Dk, Dv, causal, featureMap, eps, chunk };
}

export interface GatedDeltaArgs {
  T: number; Hk: number; Hv: number; Dk: number; Dv: number;
  scale: number; chunk: number; channelGate: boolean;
}

/** Checks a gatedDeltaRule call the way the native glue does; returns the shape with defaults. */
export function checkGatedDelta(
  out: unknown, q: unknown, k: unknown, v: unknown, g: unknown, beta: unknown, state: unknown, shape: GatedDeltaShape,
): GatedDeltaArgs {
  if (typeof shape !== 'object' || shape === null) throw new TypeError('tensorloom: shape must be a GatedDeltaShape object');
  const T = expectTokens(shape.T);
  const Hk = expectDim('Hk', shape.Hk, 1, 2 ** 20);
  const Hv = expectDim('Hv', shape.Hv, 1, 2 ** 20);
  const Dk = expectDim('Dk', shape.Dk, 1, MAX_DIM);
  const Dv = expectDim('Dv', shape.Dv, 1, MAX_DIM);
  if (Hv % Hk !== 0) throw new RangeError(`tensorloom: Hv (${Hv}) must be a multiple of Hk (${Hk}): value heads share key heads in groups`);
  const scale = shape.scale ?? 1 / Math.sqrt(Dk);
  if (typeof scale !== 'number') throw new TypeError('tensorloom: scale must be a number');
  if (!Number.isFinite(scale)) throw new RangeError('tensorloom: scale must be a finite number');
  const chunk = expectDim('chunk', shape.chunk ?? 64, 1, 4096);
  const o = f32('out', out, T * Hv * Dv, `[T=${T}, Hv=${Hv}, Dv=${Dv}]`);
  const qq = f32('q', q, T * Hk * Dk, `[T=${T}, Hk=${Hk}, Dk=${Dk}]`);
  const kk = f32('k', k, T * Hk * Dk, `[T=${T}, Hk=${Hk}, Dk=${Dk}]`);
  const vv = f32('v', v, T * Hv * Dv, `[T=${T}, Hv=${Hv}, Dv=${Dv}]`);
  expectArray('g', g, Float32Array);
  const gg = g as Float32Array;
  const channelGate = gg.length === T * Hv * Dk && Dk !== 1;
  if (gg.length !== T * Hv && !channelGate) {
    throw new RangeError(
      `tensorloom: g has ${gg.length} elements, expected ${T * Hv} (one decay per token and value head, [T, Hv]) or ${T * Hv * Dk} (one per key channel, [T, Hv, Dk])`,
    );
  }
  const bb = f32('beta', beta, T * Hv, `[T=${T}, Hv=${Hv}]`);
  const st = f32('state', state, Hv * Dv * Dk, `[Hv=${Hv}, Dv=${Dv}, Dk=${Dk}]`);
  expectNoOverlap('out', o, { q: qq, k: kk, v: vv, g: gg, beta: bb, state: st });
  expectNoOverlap('state', st, { q: qq, k: kk, v: vv, g: gg, beta: bb });
  return { T, Hk, Hv, Dk, Dv, scale, chunk, channelGate };
}

function feature(x: number, phi: FeatureMap): number {
  if (phi === 'elu1') return x > 0 ? x + 1 : Math.exp(x);
  if (phi === 'relu') return x > 0 ? x : 0;
  return x;
}

function linearAttention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, state: Float32Array, shape: LinearAttentionShape): void {
  const { T, H, Hkv, Dk, Dv, causal, featureMap, eps } = checkLinearAttention(out, q, k, v, state, shape);
  const G = H / Hkv;
  const per = Dk * Dv + Dk;
  const fq = new Float64Array(Dk);
  const fk = new Float64Array(Dk);
  const num = new Float64Array(Dv);
  const absorb = (t: number, hk: number) => {
    const S = hk * per;
    const z = S + Dk * Dv;
    for (let i = 0; i < Dk; i++) fk[i] = feature(k[(t * Hkv + hk) * Dk + i]!, featureMap);
    for (let i = 0; i < Dk; i++) {
      for (let j = 0; j < Dv; j++) state[S + i * Dv + j] = state[S + i * Dv + j]! + fk[i]! * v[(t * Hkv + hk) * Dv + j]!;
      state[z + i] = state[z + i]! + fk[i]!;
    }
  };
  const readOut = (t: number, h: number) => {
    const hk = Math.floor(h / G);
    const S = hk * per;
    const z = S + Dk * Dv;
    for (let i = 0; i < Dk; i++) fq[i] = feature(q[(t * H + h) * Dk + i]!, featureMap);
    num.fill(0);
    let den = 0;
    for (let i = 0; i < Dk; i++) {
      for (let j = 0; j < Dv; j++) num[j] += fq[i]! * state[S + i * Dv + j]!;
      den += fq[i]! * state[z + i]!;
    }
    for (let j = 0; j < Dv; j++) out[(t * H + h) * Dv + j] = num[j]! / (den + eps);
  };
  for (let t = 0; t < T; t++) {
    for (let hk = 0; hk < Hkv; hk++) absorb(t, hk);
    if (causal) for (let h = 0; h < H; h++) readOut(t, h);
  }
  if (!causal) for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) readOut(t, h);
}

function gatedDeltaRule(
  out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, g: Float32Array, beta: Float32Array, state: Float32Array, shape: GatedDeltaShape,
): void {
  const { T, Hk, Hv, Dk, Dv, scale, channelGate } = checkGatedDelta(out, q, k, v, g, beta, state, shape);
  const decay = new Float64Array(Dk);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < Hv; h++) {
      const hk = h % Hk;
      const kb = (t * Hk + hk) * Dk;
      const M = h * Dv * Dk;
      for (let i = 0; i < Dk; i++) decay[i] = Math.exp(channelGate ? g[(t * Hv + h) * Dk + i]! : g[t * Hv + h]!);
      const b = beta[t * Hv + h]!;
      for (let j = 0; j < Dv; j++) {
        const row = M + j * Dk;
        let sk = 0;
        for (let i = 0; i < Dk; i++) {
          state[row + i] = state[row + i]! * decay[i]!;
          sk += state[row + i]! * k[kb + i]!;
        }
        const d = b * (v[(t * Hv + h) * Dv + j]! - sk);
        let o = 0;
        for (let i = 0; i < Dk; i++) {
          state[row + i] = state[row + i]! + d * k[kb + i]!;
          o += state[row + i]! * q[kb + i]!;
        }
        out[(t * Hv + h) * Dv + j] = scale * o;
      }
    }
  }
}

// ── the ops around a Gated DeltaNet layer ──────────────────────────────────────────────────

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

function expectEps(eps: unknown): number {
  if (typeof eps !== 'number') throw new TypeError('tensorloom: eps must be a number');
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError('tensorloom: eps must be a finite number >= 0');
  return eps;
}

function conv1dCausal(out: Float32Array, x: Float32Array, convState: Float32Array, weight: Float32Array, T: number, C: number, K: number, silu: boolean): void {
  expectTokens(T);
  expectDim('C', C, 1, 2 ** 24);
  expectDim('K', K, 1, 64);
  if (typeof silu !== 'boolean') throw new TypeError('tensorloom: silu must be a boolean');
  f32('out', out, T * C, `[T=${T}, C=${C}]`);
  f32('x', x, T * C, `[T=${T}, C=${C}]`);
  f32('convState', convState, (K - 1) * C, `[K-1=${K - 1}, C=${C}]`);
  f32('weight', weight, C * K, `[C=${C}, K=${K}]`);
  expectNoOverlap('out', out, { x, convState, weight });
  expectNoOverlap('convState', convState, { x, weight });
  const W = K - 1;
  const win = new Float64Array(W + T);
  for (let c = 0; c < C; c++) {
    for (let w = 0; w < W; w++) win[w] = convState[w * C + c]!;
    for (let t = 0; t < T; t++) win[W + t] = x[t * C + c]!;
    for (let t = 0; t < T; t++) {
      let s = 0;
      for (let w = 0; w < K; w++) s += win[t + w]! * weight[c * K + w]!;
      out[t * C + c] = silu ? s * sigmoid(s) : s;
    }
    for (let w = 0; w < W; w++) convState[w * C + c] = win[T + w]!;
  }
}

function rows2(name: string, a: unknown, rows: number, dim: number): Float32Array {
  return f32(name, a, rows * dim, `[rows=${rows}, dim=${dim}]`);
}

function l2norm(out: Float32Array, x: Float32Array, rows: number, dim: number, eps: number): void {
  expectDim('rows', rows, 0);
  expectDim('dim', dim);
  expectEps(eps);
  rows2('out', out, rows, dim);
  rows2('x', x, rows, dim);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[r * dim + i]! ** 2;
    const inv = 1 / Math.sqrt(s + eps);
    for (let i = 0; i < dim; i++) out[r * dim + i] = x[r * dim + i]! * inv;
  }
}

function rmsnormGated(out: Float32Array, x: Float32Array, z: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
  expectDim('rows', rows, 0);
  expectDim('dim', dim);
  expectEps(eps);
  rows2('out', out, rows, dim);
  rows2('x', x, rows, dim);
  rows2('z', z, rows, dim);
  f32('weight', weight, dim, '[dim]');
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += x[r * dim + i]! ** 2;
    const inv = 1 / Math.sqrt(s / dim + eps);
    for (let i = 0; i < dim; i++) {
      const zi = z[r * dim + i]!;
      out[r * dim + i] = x[r * dim + i]! * inv * weight[i]! * zi * sigmoid(zi);
    }
  }
}

function deltaGates(g: Float32Array, beta: Float32Array, alpha: Float32Array, betaRaw: Float32Array, dtBias: Float32Array, a: Float32Array, T: number, H: number): void {
  expectTokens(T);
  expectDim('H', H, 1, 2 ** 20);
  const sh = `[T=${T}, H=${H}]`;
  f32('g', g, T * H, sh);
  f32('beta', beta, T * H, sh);
  f32('alpha', alpha, T * H, sh);
  f32('betaRaw', betaRaw, T * H, sh);
  f32('dtBias', dtBias, H, '[H]');
  f32('a', a, H, '[H]');
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < H; h++) {
      const i = t * H + h;
      g[i] = softplus(alpha[i]! + dtBias[h]!) * a[h]!;
      beta[i] = sigmoid(betaRaw[i]!);
    }
  }
}

function sigmoidMul(out: Float32Array, x: Float32Array, gate: Float32Array): void {
  expectArray('x', x, Float32Array);
  f32('out', out, x.length, '');
  f32('gate', gate, x.length, '');
  for (let i = 0; i < x.length; i++) out[i] = x[i]! * sigmoid(gate[i]!);
}

export const jsLinearAttention: LinearAttentionOps = { linearAttention, gatedDeltaRule, conv1dCausal, l2norm, rmsnormGated, deltaGates, sigmoidMul };
