/**
 * npx tsx bench/run.ts moe [--quick] [--threads=1,2]
 *
 * The mixture-of-experts feed-forward (Backend.moeFfn) at two shapes: the random 110M qwen3moe's
 * (8 experts of width 64, top-2, dim 768, f32) and a Qwen3-30B-A3B-like layer scaled down (64
 * experts of width 256, top-8, dim 1024, q8_0), for decode (T = 1) and a 128-row prefill, 1 and 2
 * threads: the native kernel (routing, grouping, gather/scatter in C++, one matmul per expert and
 * projection) next to the JS routing code over the same native matmuls (ts/backend/js/moe.ts on
 * the native backend: the op sequence of the MoE layer before the native kernel, one N-API call per
 * expert projection). The pure-JS backend is left out: its matmuls, not its routing, dominate.
 */
import { getBackend } from '../ts/index.js';
import { moeFfnWith } from '../ts/backend/js/moe.js';
import type { StackedExperts, Weights } from '../ts/backend/types.js';
import { printTable, timeIt, writeResults, type Row } from './lib.js';

function random(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 4294967296) * 2 - 1) * scale;
  }
  return a;
}

function experts(E: number, dim: number, hidden: number, dtype: 'f32' | 'q8_0'): StackedExperts {
  const js = getBackend('js');
  const make = (rows: number, cols: number, seed: number): Weights => {
    const f = random(rows * cols, seed, 1 / Math.sqrt(cols));
    if (dtype === 'f32') return { dtype, rows, cols, data: f };
    const q = new Uint8Array((f.length / 32) * 34);
    js.quantizeQ8_0(q, f);
    return { dtype, rows, cols, data: q };
  };
  return { gate: make(E * hidden, dim, 1), up: make(E * hidden, dim, 2), down: make(E * dim, hidden, 3), experts: E };
}

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const threads = (flags.find((f) => f.startsWith('--threads='))?.split('=')[1] ?? '1,2').split(',').map(Number);
  const native = getBackend('native');
  const shapes = [
    { name: 'qwen3moe-110m (E=8, k=2, 768→64, f32)', E: 8, k: 2, dim: 768, hidden: 64, dtype: 'f32' as const },
    { name: 'A3B-like (E=64, k=8, 1024→256, q8_0)', E: 64, k: 8, dim: 1024, hidden: 256, dtype: 'q8_0' as const },
  ];
  const rows: Row[] = [];
  for (const s of shapes) {
    const w = experts(s.E, s.dim, s.hidden, s.dtype);
    for (const T of [1, 128]) {
      const x = random(T * s.dim, 7, 1);
      const logits = random(T * s.E, 9, 3);
      const l = new Float32Array(logits.length);
      const out = new Float32Array(T * s.dim);
      for (const t of threads) {
        native.setThreads(t);
        const opts = { samples: quick ? 3 : 7, minSampleMs: quick ? 10 : 50 };
        const a = timeIt(() => { l.set(logits); native.moeFfn(out, x, l, T, w, s.k); }, opts);
        const b = timeIt(() => { l.set(logits); moeFfnWith(native, out, x, l, T, w, s.k); }, opts);
        rows.push({ shape: s.name, T, threads: t, 'native ms': a.ms, 'JS routing ms': b.ms, '×': b.ms / a.ms, 'native rows/s': (T / a.ms) * 1000 });
        console.log(JSON.stringify(rows[rows.length - 1]));
      }
    }
  }
  native.setThreads(0);
  printTable('moe: Backend.moeFfn, native kernel vs JS routing over native matmuls', rows);
  writeResults('moe', { rows });
}
