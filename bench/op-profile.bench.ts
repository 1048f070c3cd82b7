/**
 * npx tsx bench/run.ts op-profile --model=FILE.gguf [--threads=1] [--prompt=128] [--decode=32] [--reps=2] [--kv-cache=f16]
 *
 * Where one forward pass of a decoder spends its time, by backend op: each call of the native
 * backend is timed (they are synchronous), matmuls keyed by weight type, shape [rows × cols] and M
 * (matmulTMany by its projections' types and rows), for a prompt of `prompt` tokens (prefill, one
 * forward pass, logits of the last row only, as generate runs it) and for `decode` single-token steps
 * after it. Also the CPU time of each phase (all threads summed, process.cpuUsage) as tokens per
 * CPU-second: on a machine loaded by other work the wall time is mostly waiting for a core, the CPU
 * time much less so (it still grows with cache and memory contention). Without --model: the
 * Qwen3.5-0.8B-shaped q8_0 and q4_k_m files that the e2e bench writes to the temp dir, when there.
 * Ops below 0.1 % of a phase are left out of the table. Medians of `reps` passes per op key.
 * --kv-cache=f16 keeps the KV cache in f16 (as e2e --kv-cache=f16 and llama.cpp); the default is f32.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend, Weights } from '../ts/backend/types.js';
import { loadLocalDecoder } from '../ts/generate/load-local.js';
import { median, printTable, writeResults, type Row } from './lib.js';

type Phase = 'prefill' | 'decode';

/** Wraps every method of `b` in place: while `phase.on`, adds its time to `stats[phase][key]`. */
function instrument(b: Backend, state: { phase: Phase | null; stats: Record<Phase, Map<string, number>> }): void {
  const obj = b as unknown as Record<string, unknown>;
  const names = new Set([...Object.keys(obj), ...Object.getOwnPropertyNames(Object.getPrototypeOf(obj) ?? {})]);
  const dims = (w: Weights) => `${w.dtype} ${w.rows}×${w.cols}`;
  for (const name of names) {
    const f = obj[name];
    if (name === 'constructor' || typeof f !== 'function') continue;
    const fn = f as (...a: unknown[]) => unknown;
    obj[name] = function (this: unknown, ...a: unknown[]): unknown {
      const phase = state.phase;
      if (!phase) return fn.apply(this, a);
      const t = performance.now();
      const r = fn.apply(this, a);
      const dt = performance.now() - t;
      let key = name;
      if (name === 'matmulT') key += ` ${dims(a[2] as Weights)} M=${a[3] as number}`;
      if (name === 'matmulTMany') key += ` [${(a[2] as Weights[]).map(dims).join(', ')}] M=${a[3] as number}`;
      const m = state.stats[phase];
      m.set(key, (m.get(key) ?? 0) + dt);
      return r;
    };
  }
}

function randomIds(n: number, vocab: number, seed: number): Int32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  return Int32Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 3 + (x % (vocab - 3));
  });
}

async function profile(path: string, threads: number, prompt: number, decode: number, reps: number, kvCache: 'f32' | 'f16'): Promise<{ rows: Row[]; summary: Row[] }> {
  const loaded = await loadLocalDecoder(path, { threads, backend: 'native', contextLength: prompt + decode + 8, kvCache });
  const model = loaded.engine.model;
  const state = { phase: null as Phase | null, stats: { prefill: new Map<string, number>(), decode: new Map<string, number>() } };
  instrument(model.backend, state);
  const V = model.config.vocabSize;
  const perRep: Record<Phase, Map<string, number>[]> = { prefill: [], decode: [] };
  const wall: Record<Phase, number[]> = { prefill: [], decode: [] };
  const cpu: Record<Phase, number[]> = { prefill: [], decode: [] };
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const run = (phase: Phase, rep: number, fn: () => void): void => {
    state.stats[phase] = new Map();
    state.phase = phase;
    const c = cpuMs();
    const t = performance.now();
    fn();
    if (rep >= 0) {
      wall[phase].push(performance.now() - t);
      cpu[phase].push(cpuMs() - c);
      perRep[phase].push(state.stats[phase]);
    }
    state.phase = null;
  };
  for (let r = -1; r < reps; r++) {
    // rep −1 warms up (first-touch of weights and workspaces); the cache is overwritten from position 0
    const ids = randomIds(prompt, V, r + 2);
    run('prefill', r, () => model.forward(ids, 0));
    run('decode', r, () => {
      for (let i = 0; i < decode; i++) model.forward(randomIds(1, V, 1000 + i), prompt + i);
    });
  }
  loaded.close();
  const rows: Row[] = [];
  const summary: Row[] = [];
  const file = path.split('/').pop()!;
  for (const [phase, n] of [['prefill', prompt], ['decode', decode]] as const) {
    if (n === 0) continue;
    const keys = new Set(perRep[phase].flatMap((m) => [...m.keys()]));
    const ms = [...keys].map((k) => [k, median(perRep[phase].map((m) => m.get(k) ?? 0))] as const).sort((a, b) => b[1] - a[1]);
    const total = median(wall[phase]);
    for (const [k, v] of ms) {
      if (v / total < 1e-3) continue;
      rows.push({ model: file, phase, op: k, ms: v, '% of wall': (100 * v) / total });
    }
    summary.push({ model: file, phase, tokens: n, 'wall ms': total, 'tok/s (wall)': (n * 1000) / total, 'tok/s per CPU-s': (n * 1000) / median(cpu[phase]), 'ops % of wall': (100 * ms.reduce((s, [, v]) => s + v, 0)) / total });
  }
  return { rows, summary };
}

export async function run(flags: string[]): Promise<void> {
  const opt = (name: string, def: string): string => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? def;
  const threads = Number(opt('threads', '1'));
  const prompt = Number(opt('prompt', '128'));
  const decode = Number(opt('decode', '32'));
  const reps = Number(opt('reps', '2'));
  const kvCache = opt('kv-cache', 'f32');
  if (kvCache !== 'f32' && kvCache !== 'f16') throw new Error(`op-profile: --kv-cache=${kvCache}: expected f16 or f32`);
  const given = opt('model', '');
  const dir = join(tmpdir(), 'tensorloom-bench');
  const models = given ? [given] : ['q8_0', 'q4_k_m'].map((t) => join(dir, `qwen35-0.8b-${t}.gguf`)).filter(existsSync);
  if (models.length === 0) {
    console.log(`op-profile: no --model=FILE and no ${join(dir, 'qwen35-0.8b-*.gguf')} (written by: npx tsx bench/run.ts e2e --models=qwen35-0.8b): skipped`);
    return;
  }
  const rows: Row[] = [];
  const summary: Row[] = [];
  for (const m of models) {
    const r = await profile(m, threads, prompt, decode, reps, kvCache);
    rows.push(...r.rows);
    summary.push(...r.summary);
  }
  printTable(`op-profile: ${threads} thread(s), ${prompt}-token prompt, ${decode} decode steps, ${kvCache} KV cache (medians of ${reps})`, summary);
  printTable('time by backend op (matmuls by weight type, shape, M)', rows);
  writeResults('op-profile', { threads, prompt, decode, reps, kvCache, summary, rows });
}
