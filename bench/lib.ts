/**
 * Shared bench helpers: timing with medians, the machine description, printed tables and the
 * JSON written to bench/results/<name>.json. Benches measure; tests assert.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendInfo } from '../ts/index.js';

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), 'results');

export interface Machine {
  cpu: string;
  logicalCpus: number;
  memoryGiB: number;
  node: string;
  platform: string;
  flags: string[];
  backend: ReturnType<typeof backendInfo>;
  date: string;
}

export function machine(): Machine {
  let flags: string[] = [];
  try {
    const line = execFileSync('grep', ['-m1', '^flags', '/proc/cpuinfo'], { encoding: 'utf8' });
    flags = line.split(/\s+/).filter((f) => /^(avx|avx2|fma|f16c|avx512\w*|amx\w*)$/.test(f));
  } catch {
    // not Linux: leave empty
  }
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    logicalCpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    flags,
    backend: backendInfo(),
    date: new Date().toISOString(),
  };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export interface Timing {
  /** Median milliseconds per call. */
  ms: number;
  /** Per-sample milliseconds. */
  samples: number[];
}

/**
 * Times fn: warms up, then takes `samples` samples, each running fn enough times to last at
 * least `minSampleMs` (so fast calls are not dominated by timer resolution). Returns the median.
 */
export function timeIt(fn: () => void, opts: { samples?: number; minSampleMs?: number; warmup?: number } = {}): Timing {
  const samples = opts.samples ?? 7;
  const minSampleMs = opts.minSampleMs ?? 20;
  for (let i = 0; i < (opts.warmup ?? 2); i++) fn();
  let reps = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    const dt = performance.now() - t0;
    if (dt >= minSampleMs || reps >= 1 << 20) break;
    reps = Math.max(reps * 2, Math.ceil((reps * minSampleMs) / Math.max(dt, 1e-3)));
  }
  const out: number[] = [];
  for (let s = 0; s < samples; s++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    out.push((performance.now() - t0) / reps);
  }
  return { ms: median(out), samples: out };
}

export type Row = Record<string, string | number | null>;

export function printTable(title: string, rows: Row[]): void {
  if (rows.length === 0) return;
  const cols = Object.keys(rows[0]!);
  const cell = (v: string | number | null | undefined) =>
    v === null || v === undefined ? '—' : typeof v === 'number' ? fmt(v) : v;
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(cell(r[c])).length)));
  const line = (vals: string[]) => '| ' + vals.map((v, i) => v.padStart(widths[i]!)).join(' | ') + ' |';
  console.log(`\n${title}`);
  console.log(line(cols));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const r of rows) console.log(line(cols.map((c) => String(cell(r[c])))));
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** Writes bench/results/<name>.json with the machine description and the rows. */
export function writeResults(name: string, data: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, machine: machine(), ...data }, null, 2) + '\n');
  console.log(`\nwrote ${path}`);
  return path;
}
