/** Shared helpers of the kernel tests: seeded random inputs, ISA paths and thread counts. */
import { backendInfo, setIsa } from '../../ts/index.js';
import type { IsaName } from '../../ts/index.js';

/** A small deterministic PRNG (mulberry32), so a failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform values in [-scale, scale). */
export function randomF32(n: number, rand: () => number, scale = 1): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = (rand() * 2 - 1) * scale;
  return x;
}

const ORDER: IsaName[] = ['scalar', 'avx2', 'avx512'];
// Ranking includes the VNNI level (only the quantized dot products use it) and the BF16 level above
// it (only the GEMM of bf16 weights: vdpbf16ps).
const RANK: IsaName[] = ['scalar', 'avx2', 'avx512', 'avx512vnni', 'avx512bf16'];

/**
 * Every x86 ISA path with whether this CPU can run it (and why not, when it cannot); `bf16` adds
 * the AVX-512 BF16 level (for the float matmul tests).
 */
export function isaPaths(opts: { bf16?: boolean } = {}): { isa: IsaName; runnable: boolean; why: string }[] {
  const detected = backendInfo('native').detectedIsa as IsaName;
  const rank = RANK.indexOf(detected);
  return (opts.bf16 ? [...ORDER, 'avx512bf16' as const] : ORDER).map((isa) => {
    const runnable = RANK.indexOf(isa) <= rank;
    return { isa, runnable, why: runnable ? '' : ` — skipped: this CPU's best path is ${detected}` };
  });
}

/** Runs fn with the native ISA capped to `isa`, then restores the detected one. */
export function withIsa<T>(isa: IsaName, fn: () => T): T {
  const detected = backendInfo('native').detectedIsa as IsaName;
  const got = setIsa(isa);
  if (got.isa !== isa) throw new Error(`could not select ISA ${isa} (got ${got.isa})`);
  try {
    return fn();
  } finally {
    setIsa(detected);
  }
}
