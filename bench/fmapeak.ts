/**
 * Measured f32 FMA peak of one thread (bench/peers/fmapeak.c, compiled now with the system C
 * compiler), for benches that quote a kernel as a share of it. Measured, not computed from a clock:
 * VMs report their nominal clock (2.1 GHz here) while the cores run near 3.4 GHz, and hardware
 * cycle counters are often hidden.
 */
import { execFileSync } from 'node:child_process';
import { compilePeer } from './membw.js';

/** GFLOP/s of one thread at the ISA's FMA width (avx512 or avx2), or null with the reason printed. */
export function measuredFmaPeak(isa: string): number | null {
  const width = isa.startsWith('avx512') ? 'avx512' : isa === 'avx2' ? 'avx2' : null;
  if (width === null) {
    console.log(`FMA peak: not measured for ISA ${isa}`);
    return null;
  }
  const harness = compilePeer('fmapeak', []);
  if (!harness.path) {
    console.log(`FMA peak: skipped (${harness.why})`);
    return null;
  }
  const gflops = Number(execFileSync(harness.path, [width], { encoding: 'utf8' }).trim());
  return gflops > 0 ? gflops : null;
}
