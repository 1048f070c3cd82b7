/**
 * Fused attention, H = 12 heads of D = 64, f32: prefill (causal, T = S = 128 … 2048) and decode
 * (one query against 128 … 2048 cached positions), at 1 and 2 threads. Native against the JS
 * baseline (where it finishes in reasonable time) and against PyTorch 1.13's CPU attention
 * (softmax(QKᵀ/√d + mask)·V, bench/peers/torch_attention.py) when python3 can import torch.
 * Decode is also given as GB/s of KV read (K and V, S·H·D·4 bytes each), next to the read
 * bandwidth of one thread streaming a 256 MiB array in this same run. So that decode reads
 * memory rather than the last-level cache (12.6 MB of KV at S=2048 would fit in a 32 MB L3),
 * each decode call uses the next of several KV caches totalling >= 256 MB, as the layers of a
 * model do; the PyTorch peer does the same.
 *
 * On a shared machine wall time suffers from other processes; at 1 thread the CPU time of the
 * process (native and PyTorch alike) is printed too, and the ratio of the two.
 *
 * A second table prices the score modifiers (AttentionShape.positionBias, T5's relative position
 * buckets, and softcap, Gemma 2's): the same calls with neither, bias, softcap and both.
 *
 *   npx tsx bench/run.ts attention [--quick] [--full]   --full: JS baseline on every shape
 *   npx tsx bench/run.ts attention --modifiers          only the score-modifier table (seconds)
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend } from '../ts/index.js';
import type { AttentionShape } from '../ts/index.js';
import { median, printTable, timeIt, writeResults } from './lib.js';
import type { Row } from './lib.js';

const H = 12;
const D = 64;
const PREFILL = [128, 512, 1024, 2048];
const DECODE = [128, 512, 2048];
const THREADS = [1, 2];

interface Case {
  kind: 'prefill' | 'decode';
  T: number;
  S: number;
}

/** KV caches per case: one for prefill (compute-bound), enough to exceed the caches for decode. */
const copiesOf = (c: Case) => (c.kind === 'decode' ? Math.ceil(256e6 / (2 * c.S * H * D * 4)) : 1);

function inputs(c: Case) {
  const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const copies = copiesOf(c);
  return {
    q: rand(c.T * H * D),
    k: Array.from({ length: copies }, () => rand(c.S * H * D)),
    v: Array.from({ length: copies }, () => rand(c.S * H * D)),
    out: new Float32Array(c.T * H * D),
  };
}

const shapeOf = (c: Case): AttentionShape => ({ T: c.T, S: c.S, H, Hkv: H, D, posOffset: c.S - c.T });

const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Median wall and CPU milliseconds per call (samples of enough calls to last ~20 ms each). */
function timeBoth(fn: () => void, samples: number): { ms: number; cpuMs: number } {
  const wall = timeIt(fn, { samples });
  const reps = Math.max(1, Math.round(20 / Math.max(wall.ms, 1e-3)));
  const cpu: number[] = [];
  for (let s = 0; s < samples; s++) {
    const c0 = cpuNow();
    for (let i = 0; i < reps; i++) fn();
    cpu.push((cpuNow() - c0) / reps);
  }
  return { ms: wall.ms, cpuMs: median(cpu) };
}

/** Read bandwidth of one thread: argmax streams its input once (the max sits at index 0). */
function readBandwidthGBs(): number {
  const x = new Float32Array(64 * 2 ** 20).fill(1); // 256 MiB
  x[0] = 2;
  const native = getBackend('native');
  const t = timeIt(() => native.argmax(x), { samples: 5, minSampleMs: 50 });
  return x.byteLength / t.ms / 1e6;
}

function torchPeer(cases: Case[], threads: number, samples: number): { ms: number[] | null; cpuMs: number[] | null; note: string } {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'peers', 'torch_attention.py');
  const spec = JSON.stringify({ threads, samples, cases: cases.map((c) => ({ H, D, T: c.T, S: c.S, copies: copiesOf(c) })) });
  // Debian's python3-torch lives in the system interpreter, which may not be the first python3.
  for (const py of ['/usr/bin/python3', 'python3']) {
    try {
      const res = JSON.parse(execFileSync(py, [script, spec], { encoding: 'utf8', timeout: 600_000 })) as {
        ms?: number[];
        cpu_ms?: number[];
        skipped?: string;
        torch?: string;
      };
      if (res.ms) return { ms: res.ms, cpuMs: res.cpu_ms ?? null, note: `PyTorch ${res.torch} via ${py}` };
    } catch {
      // try the next interpreter
    }
  }
  return { ms: null, cpuMs: null, note: 'PyTorch not importable: column left empty' };
}

/**
 * The score modifiers' cost: T5-base-shaped calls (encoder self-attention without a mask,
 * decoder decode against its cache, cross-attention decode against the encoder output), each
 * plain, with a [H, T, S] position bias, with soft-capping (cap 50) and with both; 1 thread.
 */
function runModifiers(samples: number): void {
  const native = getBackend('native');
  const js = getBackend('js');
  native.setThreads(1);
  const shapes: [string, AttentionShape][] = [
    ['encoder T=S=512, bidirectional', { T: 512, S: 512, H, Hkv: H, D, posOffset: 0, causal: false, scale: 1 }],
    ['decoder prefill T=S=256, causal', { T: 256, S: 256, H, Hkv: H, D, posOffset: 0, scale: 1 }],
    ['decode S=512, causal', { T: 1, S: 512, H, Hkv: H, D, posOffset: 511, scale: 1 }],
    ['cross-attention decode S=512', { T: 1, S: 512, H, Hkv: H, D, posOffset: 0, causal: false, scale: 1 }],
  ];
  const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  for (const [name, shape] of shapes) {
    const { T, S } = shape;
    const q = rand(T * H * D);
    const k = rand(S * H * D);
    const v = rand(S * H * D);
    const out = new Float32Array(T * H * D);
    const bias = rand(H * T * S);
    const time = (s: AttentionShape) => timeIt(() => native.attention(out, q, k, v, s), { samples }).ms;
    const plain = time(shape);
    const withBias = time({ ...shape, positionBias: bias });
    const withCap = time({ ...shape, softcap: 50 });
    const both = time({ ...shape, positionBias: bias, softcap: 50 });
    const jsBias = T <= 256 ? timeIt(() => js.attention(out, q, k, v, { ...shape, positionBias: bias }), { samples: 3, warmup: 1, minSampleMs: 1 }).ms : null;
    rows.push({
      case: name,
      'plain ms': plain,
      'bias ms': withBias,
      'softcap ms': withCap,
      'both ms': both,
      'bias +%': (100 * (withBias - plain)) / plain,
      'softcap +%': (100 * (withCap - plain)) / plain,
      'js bias ms': jsBias,
      'js/native (bias)': jsBias === null ? null : jsBias / withBias,
    });
    results.push({ name, T, S, H, D, plainMs: plain, biasMs: withBias, softcapMs: withCap, bothMs: both, jsBiasMs: jsBias });
  }
  native.setThreads(0);
  printTable(`attention score modifiers, H=${H}, D=${D}, f32 KV, 1 thread (median ms per call)`, rows);
  writeResults('attention-modifiers', { H, D, results });
}

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  if (flags.includes('--modifiers')) {
    runModifiers(quick ? 3 : 5);
    return;
  }
  const full = flags.includes('--full');
  const native = getBackend('native');
  const js = getBackend('js');
  const samples = quick ? 3 : 7;

  const cases: Case[] = [
    ...PREFILL.map((T) => ({ kind: 'prefill' as const, T, S: T })),
    ...DECODE.map((S) => ({ kind: 'decode' as const, T: 1, S })),
  ];
  // The JS baseline at T=2048 takes seconds per call: by default only up to T=512.
  const jsRuns = (c: Case) => full || c.kind === 'decode' || c.T <= 512;

  const bw = readBandwidthGBs();
  console.log(`read bandwidth, 1 thread streaming 256 MiB: ${bw.toFixed(1)} GB/s`);

  const rows: Row[] = [];
  const results: Record<string, unknown>[] = [];
  const jsMs = new Map<string, number>();
  for (const threads of THREADS) {
    native.setThreads(threads);
    const peer = torchPeer(cases, threads, samples);
    for (const [i, c] of cases.entries()) {
      const { q, k, v, out } = inputs(c);
      const shape = shapeOf(c);
      let next = 0;
      const step = (b: typeof native) => {
        b.attention(out, q, k[next]!, v[next]!, shape);
        next = (next + 1) % k.length;
      };
      const { ms: nat, cpuMs: natCpu } = timeBoth(() => step(native), samples);
      const key = `${c.kind}-${c.T}-${c.S}`;
      if (threads === 1 && jsRuns(c)) jsMs.set(key, timeIt(() => step(js), { samples: 3, warmup: 1, minSampleMs: 1 }).ms);
      const jsT = jsMs.get(key) ?? null;
      const torch = peer.ms?.[i] ?? null;
      const one = threads === 1;
      const torchCpu = one ? (peer.cpuMs?.[i] ?? null) : null;
      const kvBytes = 2 * c.S * H * D * 4;
      const gbs = c.kind === 'decode' ? kvBytes / nat / 1e6 : null;
      rows.push({
        case: c.kind === 'prefill' ? `prefill T=${c.T}` : `decode S=${c.S}`,
        threads,
        'native ms': nat,
        'js ms': jsT,
        'js/native': jsT === null ? null : jsT / nat,
        'torch ms': torch,
        'torch/native': torch === null ? null : torch / nat,
        'KV GB/s': gbs,
        '% of read bw': gbs === null ? null : (100 * gbs) / bw,
        'native cpu ms': one ? natCpu : null,
        'torch cpu ms': torchCpu,
        'torch/native cpu': torchCpu === null ? null : torchCpu / natCpu,
      });
      results.push({
        ...c, H, D, threads, nativeMs: nat, jsMs: jsT, torchMs: torch, kvGBs: gbs,
        nativeCpuMs: one ? natCpu : null, torchCpuMs: torchCpu,
      });
    }
    if (threads === THREADS[0]) console.log(peer.note);
  }
  native.setThreads(0);
  printTable(`attention, H=${H}, D=${D}, f32 KV, causal (median ms per call; % of the 1-thread read bandwidth)`, rows);
  writeResults('attention', { H, D, readBandwidthGBs: bw, results });
  runModifiers(samples);
}
