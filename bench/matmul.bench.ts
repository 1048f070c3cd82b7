/**
 * npx tsx bench/run.ts matmul [--quick]
 *
 * matmulT GFLOP/s (out[M,N] = a[M,K] · wᵀ) on the issue's shapes at 1 and 2 threads, weights
 * f32 / f16 / q8_0, in one run:
 * - native (the ISA path in use) next to the pure-JS baseline (one run, on shapes up to 512³),
 *   with the ratio;
 * - OpenBLAS cblas_sgemm (f32) through bench/peers/openblas_sgemm.c, compiled now when the library
 *   is installed (Debian libopenblas-dev), with our ratio to it;
 * - memory read bandwidth (bench/peers/membw.c) at 1 and 2 threads, so GEMV (M = 1) is quoted as a
 *   share of it: weight bytes streamed per call / time / bandwidth.
 * Every figure is a median. Next to wall time, 1-thread rows also give CPU-time GFLOP/s (process
 * CPU time per call, for us and for OpenBLAS): on a machine shared with other work, CPU time stays
 * near the quiet-machine figure where wall time does not. (At 2 threads CPU time adds both threads
 * and the pool's spinning, so only wall time is quoted there.)
 * Then every weight type of the table (ts/backend/weight-types.ts), native only: GEMV weight GB/s
 * on 1×4096×4096 and 1×2048×8192 as a share of the measured read bandwidth, small-M (M = 8, and 16:
 * batched decode of 16 slots) and
 * GEMM (M = 128) GFLOP/s. Quantized types multiply int8-quantized activations (matmul.h).
 * Flags: --quick (fewer shapes and samples), --quant (only the per-type section),
 * --types=q4_k,q8_0 (only those types in it), --blas (only f32 against OpenBLAS, below),
 * --rounds=N (--blas: alternating rounds per shape and thread count, default BLAS_ROUNDS).
 *
 * --blas: f32 GEMM against OpenBLAS on prefill shapes (M = 64, 128, 512 × 768×768, 768→2048,
 * 2048→768, 4096×4096, and 1024³) at 1 and 2 threads. For each shape and thread count the two
 * alternate for BLAS_ROUNDS (or --rounds) rounds (OpenBLAS, ours, OpenBLAS, ours, …), each round a
 * median of 7 samples, so load from other processes hits both alike; the table gives the medians over rounds
 * and the median of the per-round ratios. 1 thread: CPU-time GFLOP/s (the fair figure on a shared
 * machine); 2 threads: wall-time GFLOP/s.
 * Writes bench/results/matmul.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getBackend } from '../ts/index.js';
import type { DType, Weights } from '../ts/index.js';
import { median, printTable, writeResults, type Row } from './lib.js';
import { compilePeer as compile, readBandwidth } from './membw.js';
import { WEIGHT_TYPES, dataLength, type WeightType } from '../ts/backend/weight-types.js';

const SHAPES: [number, number, number][] = [
  [1, 768, 768], [1, 4096, 4096], [1, 768, 32000], [8, 768, 768], [64, 768, 3072], [128, 768, 768], [512, 512, 512], [1024, 1024, 1024],
];
const DTYPES: DType[] = ['f32', 'f16', 'q8_0'];
/** --blas: M ≥ 64 prefill shapes (M × N × K; N×K = out×in features of the weight). */
const BLAS_SHAPES: [number, number, number][] = [
  ...[64, 128, 512].flatMap((M): [number, number, number][] => [[M, 768, 768], [M, 2048, 768], [M, 768, 2048], [M, 4096, 4096]]),
  [1024, 1024, 1024],
];
const BLAS_ROUNDS = 3;
const THREADS = [1, 2];
const BYTES_PER_WEIGHT = (t: DType): number => WEIGHT_TYPES[t].blockBytes / WEIGHT_TYPES[t].blockSize;
/** The JS baseline runs once per shape, and only up to this many multiply-adds (512³)... */
const JS_MAX_MACS = 512 ** 3;
/** ...after one warm-up run on shapes up to this size. */
const JS_WARMUP_MACS = 2 ** 24;

function openblasAvailable(): boolean {
  return ['/usr/include/cblas.h', '/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/openblas/cblas.h'].some(existsSync);
}

interface Times {
  /** Median wall-clock ms per call. */
  ms: number;
  /** Median process CPU ms per call. */
  cpuMs: number;
}

/**
 * The environment for the OpenBLAS process: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (some
 * machines set them, pinning OpenBLAS to an older kernel such as Haswell's AVX2), so the peer runs the
 * kernel it picks for this CPU. Only the peer's process gets it; ours is unchanged.
 */
function openblasEnv(threads: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(threads) };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Median wall and CPU ms per call of OpenBLAS sgemm for each shape at `threads`, and the core it chose. */
function openblasTimes(bin: string, threads: number, shapes: [number, number, number][]): { core: string; times: Map<string, Times> } {
  const out = execFileSync(bin, [String(threads), ...shapes.map((s) => s.join('x'))], { encoding: 'utf8', env: openblasEnv(threads) });
  const times = new Map<string, Times>();
  let core = 'unknown';
  for (const line of out.trim().split('\n')) {
    if (line.startsWith('core ')) {
      core = line.slice(5).trim();
      continue;
    }
    const [M, N, K, ms, cpuMs] = line.split(' ');
    times.set(`${M}x${N}x${K}`, { ms: Number(ms), cpuMs: Number(cpuMs) });
  }
  return { core, times };
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};

/**
 * Like bench/lib.ts's timeIt (warm-up, repetitions so a sample lasts ≥ minSampleMs, median of
 * `samples`), measuring wall and process CPU time of the same samples.
 */
function timeBoth(fn: () => void, opts: { samples: number; minSampleMs: number; warmup?: number }): Times {
  for (let i = 0; i < (opts.warmup ?? 2); i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= opts.minSampleMs || reps >= 1 << 20) break;
    reps = Math.max(reps * 2, Math.ceil((reps * opts.minSampleMs) / Math.max(dt, 1e-3)));
  }
  const wall: number[] = [], cpu: number[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const t0 = performance.now(), c0 = cpuNow();
    for (let i = 0; i < reps; i++) fn();
    wall.push((performance.now() - t0) / reps);
    cpu.push((cpuNow() - c0) / reps);
  }
  return { ms: median(wall), cpuMs: median(cpu) };
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
  const bw = readBandwidth(THREADS, quick ? 256 : 512);
  printTable(`memory read bandwidth (bench/peers/membw.c, median of 9 passes over ${quick ? 256 : 512} MiB)`, THREADS.map((t) => ({ threads: t, 'GB/s': bw.get(t) ?? null })));
  if (flags.includes('--blas')) {
    const roundsFlag = flags.find((f) => f.startsWith('--rounds='));
    const rounds = roundsFlag ? Number(roundsFlag.slice('--rounds='.length)) : BLAS_ROUNDS;
    if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${roundsFlag}`);
    runBlas(quick, rounds);
    native.setThreads(startThreads);
    return;
  }
  if (flags.includes('--quant')) {
    const quant = runWeightTypes(flags, bw);
    native.setThreads(startThreads);
    writeResults('matmul', { note: 'per weight type only (--quant)', bandwidthGBs: Object.fromEntries([...bw].map(([t, v]) => [`threads${t}`, v])), weightTypes: quant });
    return;
  }

  const blas = new Map<number, Map<string, Times>>();
  let blasNote = 'OpenBLAS: not installed (Debian: apt-get install libopenblas-dev)';
  if (openblasAvailable()) {
    const bin = compile('openblas_sgemm', ['-lopenblas']);
    if (bin.path) {
      let core = 'unknown';
      for (const t of THREADS) {
        const r = openblasTimes(bin.path, t, shapes);
        blas.set(t, r.times);
        core = r.core;
      }
      const unset = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
      blasNote = `OpenBLAS cblas_sgemm (NoTrans × Trans), same shapes, same thread count; core ${core} (its own choice${unset.length ? `: ${unset.join(', ')} unset for its process` : ''})`;
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
      let jsMs: number | null = null, jsCpuMs: number | null = null;
      if (macs <= JS_MAX_MACS) {
        if (macs <= JS_WARMUP_MACS) js.matmulT(out, a, w, M); // let the JIT compile it first
        const t0 = performance.now(), c0 = cpuNow();
        js.matmulT(out, a, w, M);
        jsMs = performance.now() - t0;
        jsCpuMs = cpuNow() - c0;
      }
      for (const t of THREADS) {
        native.setThreads(t);
        const { ms, cpuMs } = timeBoth(() => native.matmulT(out, a, w, M), timing);
        const g = gflops(M, N, K, ms);
        const b = dtype === 'f32' ? blas.get(t)?.get(`${M}x${N}x${K}`) ?? null : null;
        const weightGBs = M === 1 ? (N * K * BYTES_PER_WEIGHT(dtype)) / (ms * 1e6) : null;
        const bwShare = weightGBs !== null && bw.get(t) ? weightGBs / bw.get(t)! : null;
        const one = t === 1;
        rows.push({
          shape: `${M}×${N}×${K}`,
          w: dtype,
          thr: t,
          ms,
          'GFLOP/s': g,
          'JS GFLOP/s': jsMs !== null && one ? gflops(M, N, K, jsMs) : null,
          '×JS': jsMs !== null && one ? jsMs / ms : null,
          'BLAS GFLOP/s': b ? gflops(M, N, K, b.ms) : null,
          '×BLAS': b ? b.ms / ms : null,
          'cpu GFLOP/s': one ? gflops(M, N, K, cpuMs) : null,
          '×JS cpu': jsCpuMs !== null && one ? jsCpuMs / cpuMs : null,
          'BLAS cpu': b && one ? gflops(M, N, K, b.cpuMs) : null,
          '×BLAS cpu': b && one ? b.cpuMs / cpuMs : null,
          'w GB/s': weightGBs,
          '% BW': bwShare !== null ? 100 * bwShare : null,
        });
        results.push({
          M, N, K, dtype, threads: t, nativeMs: ms, nativeCpuMs: one ? cpuMs : null, gflops: g,
          jsMs: one ? jsMs : null, jsCpuMs: one ? jsCpuMs : null, openblasMs: b?.ms ?? null, openblasCpuMs: b && one ? b.cpuMs : null,
          weightGBs, bandwidthShare: bwShare,
        });
      }
    }
  }
  native.setThreads(startThreads);
  printTable(`matmulT (isa ${native.info().isa}): native vs JS baseline vs OpenBLAS sgemm — medians`, rows);
  const weightTypes = runWeightTypes(flags, bw);
  native.setThreads(startThreads);
  writeResults('matmul', {
    weightTypes,
    note: 'matmulT out[M,N] = a[M,K]·wᵀ; medians of wall (and, at 1 thread, process CPU) ms per call; JS baseline timed once per shape (≤ 512³ MACs); bandwidth by bench/peers/membw.c',
    bandwidthGBs: Object.fromEntries([...bw].map(([t, v]) => [`threads${t}`, v])),
    openblas: blasNote,
    results,
  });
}

// ── f32 against OpenBLAS, alternating (--blas) ─────────────────────────────────────────────────

function runBlas(quick: boolean, blasRounds: number): void {
  const native = getBackend('native');
  if (!openblasAvailable()) {
    console.log('OpenBLAS: not installed (Debian: apt-get install libopenblas-dev)');
    return;
  }
  const bin = compile('openblas_sgemm', ['-lopenblas']);
  if (!bin.path) {
    console.log(`OpenBLAS: harness did not compile (${bin.why})`);
    return;
  }
  const timing = { samples: 7, minSampleMs: quick ? 10 : 20 };
  const rounds = quick ? 1 : blasRounds;
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  let core = 'unknown';
  for (const [M, N, K] of BLAS_SHAPES) {
    const a = new Float32Array(M * K).map(() => Math.random() * 2 - 1);
    const w = randomWeights('f32', N, K);
    const out = new Float32Array(M * N);
    for (const t of THREADS) {
      native.setThreads(t);
      const one = t === 1;
      const ours: number[] = [], theirs: number[] = [], ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const b = openblasTimes(bin.path, t, [[M, N, K]]);
        core = b.core;
        const bt = b.times.get(`${M}x${N}x${K}`)!;
        const o = timeBoth(() => native.matmulT(out, a, w, M), timing);
        const bMs = one ? bt.cpuMs : bt.ms, oMs = one ? o.cpuMs : o.ms;
        ours.push(oMs);
        theirs.push(bMs);
        ratios.push(bMs / oMs);
      }
      const oMs = median(ours), bMs = median(theirs);
      rows.push({
        shape: `${M}×${N}×${K}`, thr: t, time: one ? 'cpu' : 'wall', 'ours GFLOP/s': gflops(M, N, K, oMs),
        'BLAS GFLOP/s': gflops(M, N, K, bMs), '×BLAS': median(ratios),
      });
      results.push({ M, N, K, threads: t, time: one ? 'cpu' : 'wall', oursMs: oMs, openblasMs: bMs, ratio: median(ratios), rounds });
    }
  }
  const unset = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'].filter((k) => process.env[k] !== undefined).map((k) => `${k}=${process.env[k]}`);
  const note = `OpenBLAS cblas_sgemm core ${core} (its own choice${unset.length ? `: ${unset.join(', ')} unset for its process` : ''})`;
  printTable(`f32 matmulT (isa ${native.info().isa}) vs ${note}; medians of ${rounds} alternating rounds; 1 thread CPU time, 2 threads wall`, rows);
  writeResults('matmul-blas', { note, rounds, results });
}

// ── every weight type of the table ─────────────────────────────────────────────────────────────

/** Byte offsets of the f16 scale fields of each quantized block (ggml-common.h), made finite below. */
const SCALE_FIELDS: Record<string, number[]> = {
  q4_0: [0], q4_1: [0, 2], q5_0: [0], q5_1: [0, 2], q8_0: [0], iq4_nl: [0], iq4_xs: [0],
  q2_k: [80, 82], q3_k: [108], q4_k: [0, 2], q5_k: [0, 2], q6_k: [208],
};

/** Random weights of any type: random values (float types) or random blocks with small finite f16 scales. */
function randomTypedWeights(t: WeightType, N: number, K: number): Weights {
  const n = dataLength(t, N, K);
  const dtype = t.name as DType;
  if (t.storage === 'f32') return { dtype, rows: N, cols: K, data: new Float32Array(n).map(() => Math.random() * 2 - 1) };
  if (t.storage === 'u16') return { dtype, rows: N, cols: K, data: new Uint16Array(n).map(() => 0x3000 | (Math.random() * 0x0fff)) };
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = (Math.random() * 256) | 0;
  for (let b = 0; b < n; b += t.blockBytes) {
    for (const o of SCALE_FIELDS[t.name] ?? []) {
      bytes[b + o] = (Math.random() * 256) | 0;
      bytes[b + o + 1] = 0x20 | ((Math.random() * 4) | 0); // |x| ≈ 2^-7: finite, normal
    }
  }
  return { dtype, rows: N, cols: K, data: bytes };
}

/** GEMV / small-M / GEMM figures for every weight type (or --types=a,b), 1 and 2 threads. */
function runWeightTypes(flags: string[], bw: Map<number, number>): Record<string, unknown>[] {
  const quick = flags.includes('--quick');
  const only = flags.find((f) => f.startsWith('--types='))?.slice('--types='.length).split(',');
  const native = getBackend('native');
  const types = Object.values(WEIGHT_TYPES).filter((t) => !only || only.includes(t.name));
  const shapes: [number, number, number][] = quick
    ? [[1, 4096, 4096], [1, 2048, 8192], [8, 2048, 2048], [16, 2048, 2048], [128, 1024, 2048]]
    : [[1, 4096, 4096], [1, 2048, 8192], [8, 4096, 4096], [16, 4096, 4096], [128, 2048, 4096]];
  const timing = quick ? { samples: 3, minSampleMs: 10 } : { samples: 5, minSampleMs: 25 };
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  for (const [M, N, K] of shapes) {
    const a = new Float32Array(M * K).map(() => Math.random() * 2 - 1);
    const out = new Float32Array(M * N);
    for (const t of types) {
      const w = randomTypedWeights(t, N, K);
      const weightBytes = (N * K / t.blockSize) * t.blockBytes;
      for (const threads of THREADS) {
        native.setThreads(threads);
        const { ms, cpuMs } = timeBoth(() => native.matmulT(out, a, w, M), timing);
        const wGBs = M === 1 ? weightBytes / (ms * 1e6) : null;
        const share = wGBs !== null && bw.get(threads) ? (100 * wGBs) / bw.get(threads)! : null;
        // 1 thread: also per CPU-second (steadier than wall time on a shared machine)
        const one = threads === 1;
        rows.push({
          shape: `${M}×${N}×${K}`, type: t.name, thr: threads, ms, 'GFLOP/s': gflops(M, N, K, ms), 'w GB/s': wGBs, '% BW': share,
          'cpu GFLOP/s': one ? gflops(M, N, K, cpuMs) : null, 'cpu w GB/s': one && M === 1 ? weightBytes / (cpuMs * 1e6) : null,
        });
        results.push({ M, N, K, type: t.name, threads, ms, cpuMs: one ? cpuMs : null, gflops: gflops(M, N, K, ms), weightGBs: wGBs, bandwidthPercent: share });
      }
    }
  }
  printTable(`matmulT per weight type (isa ${native.info().isa}): GEMV weight GB/s vs read bandwidth, small-M and GEMM GFLOP/s — medians`, rows);
  return results;
}
