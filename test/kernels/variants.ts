/**
 * Shared by the attention and ops tests: a seeded PRNG, an independent f16 decoder/encoder, closeness
 * checks with stated tolerances, and the ISA × thread-count matrix every kernel runs under.
 */
import { expect } from 'vitest';
import { backendInfo, getBackend, setIsa } from '../../ts/index.js';
import type { IsaName } from '../../ts/index.js';

/** mulberry32: deterministic floats in [lo, hi). */
export function rng(seed: number): (lo?: number, hi?: number) => number {
  let a = seed >>> 0;
  return (lo = -1, hi = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r(lo, hi);
  return a;
}

/** IEEE half → number, written from the format definition (independent of the library's). */
export function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

/** number → nearest IEEE half bits (ties to even), by search over the 2^15 magnitudes: slow but obviously right. */
let halfMagnitudes: Float64Array | undefined;
export function numberToHalf(x: number): number {
  halfMagnitudes ??= Float64Array.from({ length: 0x7c00 }, (_, i) => halfToNumber(i));
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  let hi = 0x7bff;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (halfMagnitudes[mid]! <= a) lo = mid;
    else hi = mid - 1;
  }
  let best = lo;
  if (lo < 0x7bff) {
    const dl = a - halfMagnitudes[lo]!;
    const dh = halfMagnitudes[lo + 1]! - a;
    if (dh < dl || (dh === dl && (lo & 1) === 1)) best = lo + 1;
  }
  return sign | best;
}

/**
 * Expects |actual - expected| <= abs + rel·|expected| elementwise; reports the worst index.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, abs: number, rel: number, what = ''): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    const excess = err - (abs + rel * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(a))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (tolerance ${abs} + ${rel}·|x|)`,
    );
  }
}

export const native = getBackend('native');
export const js = getBackend('js');
export const detectedIsa = backendInfo('native').detectedIsa as IsaName;

export interface Variant {
  isa: IsaName;
  threads: number;
  /** Why this variant cannot run here (then its tests are skipped with this message). */
  skip?: string;
  title: string;
}

/**
 * Every ISA path × 1 and 2 threads. AVX-512 paths skip (with the reason) on CPUs without it.
 * `vnni` adds the AVX-512 VNNI level, which only the quantized dot products use; `icelake` also the
 * top level (avx512bf16), where some VNNI GEMV kernels take AVX-512 VBMI / GFNI on CPUs that have them
 * (native/kernels/cpu.h; capped at avx512vnni they run without it).
 */
export function variants(opts: { vnni?: boolean; icelake?: boolean } = {}): Variant[] {
  const levels: IsaName[] = ['scalar', 'avx2', 'avx512', 'avx512vnni', 'avx512bf16'];
  const order = opts.icelake ? levels : opts.vnni ? levels.slice(0, 4) : levels.slice(0, 3);
  const rank = (i: IsaName) => levels.indexOf(i);
  const out: Variant[] = [];
  for (const isa of order) {
    for (const threads of [1, 2]) {
      const supported = detectedIsa !== 'neon' && rank(isa) <= rank(detectedIsa);
      const skip = supported ? undefined : `skipped: this CPU has no ${isa.toUpperCase()} (detectedIsa = ${detectedIsa})`;
      out.push({ isa, threads, skip, title: `${isa}, ${threads} thread${threads > 1 ? 's' : ''}${skip ? ` — ${skip}` : ''}` });
    }
  }
  return out;
}

/** Runs fn with the native backend capped at `isa` and using `threads` threads, then restores. */
export function withVariant(v: Variant, fn: () => void): void {
  const r = setIsa(v.isa);
  expect(r.isa).toBe(v.isa);
  native.setThreads(v.threads);
  try {
    fn();
  } finally {
    setIsa(detectedIsa);
    native.setThreads(0);
  }
}
