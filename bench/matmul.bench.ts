/**
 * npx tsx bench/run.ts matmul [--quick]
 *
 * matmulT GFLOP/s (out[M,N] = a[M,K] · wᵀ) on the shapes at 1 and 2 threads, weights
 * f32 / f16 / q8_0, in one run:
 * - native (the ISA path in use) next to the pure-JS baseline (one run, on shapes up to 512³),
 *   with the ratio;
 * - OpenBLAS cblas_sgemm (f32) through bench/peers/openblas_sgemm.c, compiled now when the library
 *   is installed (Debian libopenblas-dev), with our ratio to it;
 * - memory read bandwidth (bench/peers/membw.c) at 1 and 2 threads, so GEMV (M = 1) is quoted as a
 *   share of it: weight bytes streamed per call / time / bandwidth.
 * Writes bench/results/matmul.json (medians).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend } from '../ts/index.js';
import type { DType, Weights } from '../ts/index.js';
import { printTable, timeIt, writeResults, type Row } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const peersDir = join(here, 'peers');
const buildDir = join(peersDir, 'build');

const SHAPES: [number, number, number][] = [
  [1, 768, 768], [1, 4096, 4096], [1, 768, 32000], [8, 768, 768], [64, 768, 3072], [128, 768, 768], [512, 512, 512], [1024, 1024, 1024],
];
const DTYPES: DType[] = ['f32', 'f16', 'q8_0'];
const THREADS = [1, 2];
const BYTES_PER_WEIGHT: Record<DType, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 };
/** The JS baseline runs once per shape, and only up to this many multiply-adds (512³). */
const JS_MAX_MACS = 512 ** 3;

/** Compiles a C harness from bench/peers into bench/peers/build; null (with the reason) when it cannot. */
function compile(name: string, args: string[]): { path: string | null; why?: string } {
  mkdirSync(buildDir, { recursive: true });
  const out = join(buildDir, name);
  try {
    execFileSync('cc', ['-O2', '-o', out, join(peersDir, `${name}.c`), ...args], { stdio: 'pipe' });
    return { path: out };
  } catch (err) {
    const msg = err instanceof Error && 'stderr' in err ? String((err as { stderr: Buffer }).stderr).split('\n')[0] : String(err);
    return { path: null, why: msg };
  }
}

function openblasAvailable(): boolean {
  return ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'].some(existsSync);
}

/** Median ms per call of OpenBLAS sgemm for each shape at `threads`, or null when unavailable. */
function openblasTimes(bin: string, threads: number, shapes: [number, number, number][]): Map<string, number> {
  const out = execFileSync(bin, [String(threads), ...shapes.map((s) => s.join('x'))], { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads) } });
  const times = new Map<string, number>();
  for (const line of out.trim().split('\n')) {
    const [M, N, K, ms] = line.split(' ');
    times.set(`${M}x${N}x${K}`, Number(ms));
  }
  return times;
}

function randomWeights(dtype: DType, N: number, K: number): Weights {
  const f = new Float32Array(N * K);
  for (let i = 0; i < f.length; i++) f[i] = Math.random() * 2 - 1;
  const js = getBackend('js');
  if (dtype === 'f32') return { dtype, rows: N, cols: K, data: f };
  if (dtype === 'q8_0') {
    const q = new Uint8Array((N * K) / 32 * 34);
    getBackend('native').quantizeQ8_0(q, f);
    return { dtype, rows: N, cols: K, data: q };
  }
  const h = new Uint16Array(N * K);
  if (dtype === 'f16') getBackend('native').f32ToF16(h, f);
  else js.f32ToBf16(h, f);
  return { dtype, rows: N, cols: K, data: h };
}

const gflops = (M: number, N: number, K: number, ms: number) => (2 * M * N * K) / (ms * 1e6);

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const native = getBackend('native');
  const js = getBackend('js');
  const shapes = quick ? SHAPES.filter(([M, N, K]) => M * N * K <= 512 ** 3) : SHAPES;
  const timing = quick ? { samples: 3, minSampleMs: 10 } : { samples: 7, minSampleMs: 25 };
  const startThreads = native.info().threads;

  // ── peers: memory bandwidth and OpenBLAS ──────────────────────────────────────────────────
  const bw = new Map<number, number>();
  const membw = compile('membw', ['-mavx2', '-lpthread']);
  if (membw.path) for (const t of THREADS) bw.set(t, Number(execFileSync(membw.path, [String(t), quick ? '256' : '512'], { encoding: 'utf8' }).trim()));
  else console.log(`memory bandwidth: skipped (${membw.why})`);
  printTable('memory read bandwidth (bench/peers/membw.c, median of 9 passes over 512 MiB)', THREADS.map((t) => ({ threads: t, 'GB/s': bw.get(t) ?? null })));

  const blas = new Map<number, Map<string, number>>();
  let blasNote = 'OpenBLAS: not installed (Debian: apt-get install libopenblas-dev)';
  if (openblasAvailable()) {
    const bin = compile('openblas_sgemm', ['-lopenblas']);
    if (bin.path) {
      for (const t of THREADS) blas.set(t, openblasTimes(bin.path, t, shapes));
      blasNote = 'OpenBLAS cblas_sgemm (NoTrans × Trans), same shapes, same thread count';
    } else blasNote = `OpenBLAS: harness did not compile (${bin.why})`;
  }
  console.log(`\n${blasNote}`);

  // ── native and JS ─────────────────────────────────────────────────────────────────────────
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  for (const [M, N, K] of shapes) {
    const a = new Float32Array(M * K).map(() => Math.random() * 2 - 1);
    const out = new Float32Array(M * N);
    for (const dtype of DTYPES) {
      const w = randomWeights(dtype, N, K);
      const macs = M * N * K;
      let jsMs: number | null = null;
      if (macs <= JS_MAX_MACS) jsMs = timeIt(() => js.matmulT(out, a, w, M), { samples: 1, minSampleMs: 0, warmup: 0 }).ms;
      for (const t of THREADS) {
        native.setThreads(t);
        const ms = timeIt(() => native.matmulT(out, a, w, M), timing).ms;
        const g = gflops(M, N, K, ms);
        const blasMs = dtype === 'f32' ? blas.get(t)?.get(`${M}x${N}x${K}`) ?? null : null;
        const weightGBs = M === 1 ? (N * K * BYTES_PER_WEIGHT[dtype]) / (ms * 1e6) : null;
        const bwShare = weightGBs !== null && bw.get(t) ? weightGBs / bw.get(t)! : null;
        rows.push({
          shape: `${M}×${N}×${K}`,
          w: dtype,
          thr: t,
          'native ms': ms,
          'GFLOP/s': g,
          'JS GFLOP/s': jsMs !== null && t === 1 ? gflops(M, N, K, jsMs) : null,
          '×JS': jsMs !== null && t === 1 ? jsMs / ms : null,
          'BLAS GFLOP/s': blasMs !== null ? gflops(M, N, K, blasMs) : null,
          '×BLAS': blasMs !== null ? blasMs / ms : null,
          'GB/s (M=1)': weightGBs,
          '% of BW': bwShare !== null ? 100 * bwShare : null,
        });
        results.push({ M, N, K, dtype, threads: t, nativeMs: ms, gflops: g, jsMs: t === 1 ? jsMs : null, openblasMs: blasMs, weightGBs, bandwidthShare: bwShare });
      }
    }
  }
  native.setThreads(startThreads);
  printTable(`matmulT (isa ${native.info().isa}): native vs JS baseline vs OpenBLAS sgemm — medians`, rows);
  writeResults('matmul', {
    note: 'matmulT out[M,N] = a[M,K]·wᵀ; medians; JS baseline timed once per shape (≤ 512³ MACs); bandwidth by bench/peers/membw.c',
    bandwidthGBs: Object.fromEntries([...bw].map(([t, v]) => [`threads${t}`, v])),
    openblas: blasNote,
    results,
  });
}
