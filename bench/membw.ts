/**
 * Streaming memory read bandwidth, measured by bench/peers/membw.c (compiled now with the system C
 * compiler into bench/peers/build), so benches can quote GEMV and decode speed as a share of it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const peersDir = join(dirname(fileURLToPath(import.meta.url)), 'peers');
const buildDir = join(peersDir, 'build');

/** Compiles a C harness from bench/peers into bench/peers/build; null (with the reason) when it cannot. */
export function compilePeer(name: string, args: string[]): { path: string | null; why?: string } {
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

let membw: { path: string | null; why?: string } | undefined;

/**
 * Read GB/s (1e9 bytes) per thread count: the median of 9 passes over a `mib`-MiB buffer (far
 * larger than the last-level cache). An empty map, with the reason printed, when membw.c does not build.
 */
export function readBandwidth(threads: number[], mib = 512): Map<number, number> {
  const bw = new Map<number, number>();
  membw ??= compilePeer('membw', ['-mavx2', '-lpthread']);  // compiled once per process (e2e measures before every case)
  if (!membw.path) {
    console.log(`memory bandwidth: skipped (${membw.why})`);
    return bw;
  }
  for (const t of threads) bw.set(t, Number(execFileSync(membw.path, [String(t), String(mib)], { encoding: 'utf8' }).trim()));
  return bw;
}
