/**
 * Scaled RoPE's cos/sin table in ggml's f32 recipe (ScaledRopeTableParams), every step rounded
 * with Math.fround. cos/sin are the correctly rounded f32 values of the f32 angle; the C library's
 * cosf/sinf that ggml (and the native kernel) call differ from them by 1 ulp on a few angles.
 */
import type { ScaledRopeOps, ScaledRopeTableParams } from '../types.js';

const f = Math.fround;

export function ropeScaledTableJs(table: Float32Array, pos0: number, npos: number, p: ScaledRopeTableParams): void {
  const half = p.dims / 2;
  if (!Number.isInteger(half) || half < 1) throw new RangeError(`tensorloom: RoPE dims must be a positive even number, got ${p.dims}`);
  if (table.length < npos * p.dims) throw new RangeError(`tensorloom: table has ${table.length} floats, needs ${npos * p.dims} (npos · dims)`);
  for (const [name, a] of [['freqFactors', p.freqFactors], ['ramp', p.ramp]] as const) {
    if (a && a.length !== half) throw new RangeError(`tensorloom: ${name} has ${a.length} values, expected ${half} (one per rotated pair)`);
  }
  const thetaScale = f(Math.pow(f(p.theta), f(-2 / p.dims)));
  const freqScale = f(p.freqScale);
  const mscale = f(p.mscale);
  const { freqFactors: ff, ramp } = p;
  for (let q = 0; q < npos; q++) {
    let theta = f(pos0 + q);
    const row = q * p.dims;
    for (let i = 0; i < half; i++) {
      const extrap = ff ? f(theta / ff[i]!) : theta;
      const interp = f(freqScale * extrap);
      let a = interp;
      if (ramp) {
        const r = ramp[i]!;
        a = f(f(interp * f(1 - r)) + f(extrap * r));
      }
      table[row + 2 * i] = f(Math.cos(a)) * mscale;
      table[row + 2 * i + 1] = f(Math.sin(a)) * mscale;
      theta = f(theta * thetaScale);
    }
  }
}

export const jsScaledRope: ScaledRopeOps = { ropeScaledTable: ropeScaledTableJs };
