/**
 * Linear attention against softmax attention, H = 16 heads of D = 128, f32, causal, at 1 and 2
 * threads: the paper's rule (elu1) and the gated delta rule (Qwen3.5's layer kernel) next to the
 * fused softmax kernel.
 * - prefill: T tokens from an empty state / cache, T = 256 … 16k;
 * - decode: one token at context S = 128 … 16k. Softmax reads an S-row KV cache; the linear rules
 *   read and write their fixed state, whatever S is (the state here has no history in it, which
 *   changes nothing in the arithmetic). Each decode call uses the next of several caches/states
 *   totalling ≥ 256 MB, as the layers of a model do, so memory rather than the LLC is read;
 * - memory per sequence and layer: the KV cache (2·S·H·D·4 bytes) vs the state (H·(D²+D)·4 bytes
 *   for the paper's rule, H·D²·4 for the delta rule);
 * - the crossover: the first T (prefill) and S (decode) where each linear rule beats softmax;
 * - flatness: decode time per token at the longest S over the shortest, per rule (a recurrent step
 *   does the same work at any S, so this should stay within noise of 1);
 * - % of FMA peak for prefill: GFLOP/s per busy core (flops over the CPU time the process got, all
 *   threads summed, so a loaded machine does not count against the kernel) over the f32 FMA peak
 *   of one thread measured by bench/fmapeak.ts at the active ISA's width (TL_FMA_PEAK=GFLOP/s
 *   overrides it; the clock in /proc/cpuinfo is the VM's nominal one, far below the real clock).
 *
 *   npx tsx bench/run.ts linear-attention [--quick] [--kinds=softmax,linear,delta] [--prefill=T,…] [--decode=S,…]
 *     --quick: T, S ∈ {256, 1024}, 3 samples; --prefill / --decode: other lengths
 */
import { getBackend } from '../ts/index.js';
import type { Backend } from '../ts/index.js';
import { measuredFmaPeak } from './fmapeak.js';
import { printTable, timeIt, writeResults } from './lib.js';
import type { Row } from './lib.js';

const H = 16;
const D = 128;
const THREADS = [1, 2];

type Kind = 'softmax' | 'linear' | 'delta';
const KINDS: Kind[] = ['softmax', 'linear', 'delta'];

/** Least CPU milliseconds (all threads of the process) of `reps` calls of fn. */
function cpuMsPerCall(fn: () => void, reps: number): number {
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1000);
  }
  return best;
}

/** f32 FMA peak of one thread in GFLOP/s: TL_FMA_PEAK, else measured (null if neither). */
function peakGflopsPerThread(isa: string): number | null {
  const env = Number(process.env.TL_FMA_PEAK);
  return env > 0 ? env : measuredFmaPeak(isa);
}

const rand = (n: number, lo = -1, hi = 1) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * Math.random();
  return a;
};

function l2rows(x: Float32Array): Float32Array {
  for (let r = 0; r < x.length / D; r++) {
    let s = 0;
    for (let i = 0; i < D; i++) s += x[r * D + i]! ** 2;
    for (let i = 0; i < D; i++) x[r * D + i]! /= Math.sqrt(s);
  }
  return x;
}

const stateFloats = (k: Kind) => (k === 'linear' ? H * (D * D + D) : H * D * D);
const bytesPerSequence = (k: Kind, S: number) => (k === 'softmax' ? 2 * S * H * D * 4 : stateFloats(k) * 4);

/** A call of `kind` over T new tokens with S positions in total (T = 1: decode), ready to time. */
function makeCall(be: Backend, kind: Kind, T: number, S: number): () => void {
  const q = rand(T * H * D);
  const out = new Float32Array(T * H * D);
  const copies = T === 1 ? Math.max(1, Math.ceil(256e6 / bytesPerSequence(kind, S))) : 1;
  let next = 0;
  if (kind === 'softmax') {
    const k = Array.from({ length: copies }, () => rand(S * H * D));
    const v = Array.from({ length: copies }, () => rand(S * H * D));
    const shape = { T, S, H, Hkv: H, D, posOffset: S - T };
    return () => {
      be.attention(out, q, k[next]!, v[next]!, shape);
      next = (next + 1) % copies;
    };
  }
  const k = rand(T * H * D);
  const v = rand(T * H * D);
  const states = Array.from({ length: copies }, () => new Float32Array(stateFloats(kind)).fill(0)); // fill: fault the pages in now
  if (kind === 'linear') {
    const shape = { T, H, Hkv: H, Dk: D, Dv: D };
    return () => {
      be.linearAttention(out, q, k, v, states[next]!, shape);
      next = (next + 1) % copies;
    };
  }
  l2rows(q);
  l2rows(k);
  const g = rand(T * H, -0.5, -0.01);
  const beta = rand(T * H, 0.1, 0.9);
  const shape = { T, Hk: H, Hv: H, Dk: D, Dv: D };
  return () => {
    be.gatedDeltaRule(out, q, k, v, g, beta, states[next]!, shape);
    next = (next + 1) % copies;
  };
}

/**
 * Flops of a prefill of T tokens, the useful multiply-adds only (masked halves not counted):
 * softmax QKᵀ and PV under the causal mask; the paper's rule per token Φq·S, Φkᵀv and the masked
 * in-chunk terms (chunk 32); the delta rule per token (Γ∘K)·S, (Γ∘Q)·S, Kᵀ·D and the masked KKᵀ,
 * QKᵀ, B·D and triangular solve (chunk 64: 4 · 32 · D).
 */
function prefillFlops(kind: Kind, T: number): number {
  if (kind === 'softmax') return 2 * 2 * H * D * (T * (T + 1)) / 2;
  return kind === 'linear' ? 2 * H * T * (2 * D * D + 32 * D) : 2 * H * T * (3 * D * D + 4 * 32 * D);
}

const fmtBytes = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 10).toFixed(0)} KiB`);

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const kindsFlag = flags.find((f) => f.startsWith('--kinds='));
  const kinds = kindsFlag ? KINDS.filter((k) => kindsFlag.slice(8).split(',').includes(k)) : KINDS;
  const list = (name: string) => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1]?.split(',').map(Number).filter((n) => n > 0);
  const PREFILL = list('prefill') ?? (quick ? [256, 1024] : [256, 1024, 4096, 16384]);
  const DECODE = list('decode') ?? (quick ? [256, 1024] : [128, 1024, 4096, 16384]);
  const samples = quick ? 3 : 5;
  const native = getBackend('native');
  const isa = String(native.info().isa);
  const peak1 = peakGflopsPerThread(isa);
  const flat: Row[] = [];

  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  const crossover: Row[] = [];
  for (const threads of THREADS) {
    native.setThreads(threads);
    const time: Record<string, Map<number, number>> = {};
    for (const phase of ['prefill', 'decode'] as const) {
      for (const n of phase === 'prefill' ? PREFILL : DECODE) {
        const row: Row = { case: `${phase} ${phase === 'prefill' ? 'T' : 'S'}=${n}`, threads };
        for (const kind of kinds) {
          const call = makeCall(native, kind, phase === 'prefill' ? n : 1, n);
          const ms = timeIt(call, { samples, warmup: 1, minSampleMs: phase === 'prefill' ? 1 : 20 }).ms;
          (time[`${phase}-${kind}`] ??= new Map()).set(n, ms);
          row[`${kind} ms`] = ms;
          if (phase === 'decode') {
            // CPU time per token too: on a loaded machine the wall clock also counts other processes
            const cpu = cpuMsPerCall(() => { for (let i = 0; i < 20; i++) call(); }, 3) / 20;
            row[`${kind} cpu ms`] = cpu;
            (time[`decode-cpu-${kind}`] ??= new Map()).set(n, cpu);
          }
          if (phase === 'prefill') {
            const gflops = prefillFlops(kind, n) / ms / 1e6;
            row[`${kind} GFLOP/s`] = gflops;
            if (kind !== 'softmax') {
              // On a shared machine the wall clock counts time other processes had the cores; the
              // CPU time this process got is what the kernel's own efficiency is measured on.
              const cpu = cpuMsPerCall(call, 3);
              row[`${kind} GFLOP/s per busy core`] = prefillFlops(kind, n) / cpu / 1e6;
              row[`${kind} % peak`] = peak1 === null ? null : (100 * prefillFlops(kind, n)) / cpu / 1e6 / peak1;
            }
          }
          results.push({ phase, kind, n, threads, H, D, ms, bytesPerSequence: bytesPerSequence(kind, n) });
        }
        row['KV (softmax)'] = fmtBytes(bytesPerSequence('softmax', n));
        rows.push(row);
      }
    }
    for (const kind of DECODE.length ? kinds : []) {
      const dec = time[`decode-${kind}`]!;
      const cpu = time[`decode-cpu-${kind}`]!;
      const lo = Math.min(...dec.keys()), hi = Math.max(...dec.keys());
      flat.push({
        threads,
        rule: kind,
        [`ms/token S=${lo}`]: dec.get(lo)!,
        [`ms/token S=${hi}`]: dec.get(hi)!,
        ratio: dec.get(hi)! / dec.get(lo)!,
        [`cpu ms/token S=${lo}`]: cpu.get(lo)!,
        [`cpu ms/token S=${hi}`]: cpu.get(hi)!,
        'cpu ratio': cpu.get(hi)! / cpu.get(lo)!,
      });
    }
    for (const phase of ['prefill', 'decode'] as const) {
      for (const kind of (['linear', 'delta'] as const).filter((k) => kinds.includes(k))) {
        const soft = time[`${phase}-softmax`];
        if (!soft || !time[`${phase}-${kind}`]) continue;
        const mine = time[`${phase}-${kind}`]!;
        const first = [...mine.keys()].find((n) => mine.get(n)! < soft.get(n)!);
        crossover.push({
          threads,
          phase,
          rule: kind === 'linear' ? "paper's (elu1)" : 'gated delta',
          'faster than softmax from': first === undefined ? `not up to ${Math.max(...mine.keys())}` : `${phase === 'prefill' ? 'T' : 'S'} = ${first}`,
        });
      }
    }
  }
  native.setThreads(0);
  printTable(`linear vs softmax attention, H=${H}, D=${D}, f32, causal (median ms per call)`, rows);
  console.log(
    peak1 === null
      ? '\n% peak: the FMA peak is unknown (set TL_FMA_PEAK=GFLOP/s)'
      : `\n% peak: of ${peak1.toFixed(1)} GFLOP/s per thread (${isa}, ${process.env.TL_FMA_PEAK ? 'TL_FMA_PEAK' : 'measured by bench/peers/fmapeak.c'})`,
  );
  printTable('decode flatness: time per token at the longest context over the shortest (1 = flat)', flat);
  console.log(
    `\nmemory per sequence and layer: softmax KV 2·S·H·D·4 bytes (${fmtBytes(bytesPerSequence('softmax', 16384))} at S=16k); ` +
      `paper's rule ${fmtBytes(bytesPerSequence('linear', 0))}, gated delta ${fmtBytes(bytesPerSequence('delta', 0))} at any S`,
  );
  printTable('crossover: the first length (of those measured) where the linear rule is faster', crossover);
  writeResults('linear-attention', { H, D, quick, isa, peakGflopsPerThread: peak1, results, crossover, flat });
}
