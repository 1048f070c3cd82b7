/**
 * Scaled RoPE's cos/sin table (Backend.ropeScaledTable: Llama 3 divisors, linear interpolation,
 * YaRN's ramp, LongRoPE's magnitude) equals ggml's f32 recipe (ggml_rope_cache_init + rope_yarn),
 * written out below step by step from its definition: the angle of pair i at position p is
 * accumulated as θ_{i+1} = θ_i · powf(base, -2/dims) in f32, divided by the pair's factor, scaled
 * by freq_scale, blended with YaRN's ramp (each product rounded), and cos/sin of it times mscale.
 * The JS baseline takes the correctly rounded cos/sin of the f32 angle (bit for bit here); the
 * native kernel calls the C library's cosf/sinf as ggml does, within 1 ulp of those (so 2 ulps
 * after the magnitude), equal for most. A wrong angle (θ_i as pos · base^(-2i/dims) in f64, as
 * the table once computed it) is off by many ulps at these positions.
 */
import { describe, expect, it } from 'vitest';
import type { ScaledRopeTableParams } from '../../ts/backend/types.js';
import { js, native } from './variants.js';

const f = Math.fround;

function ggmlScaled(pos0: number, npos: number, p: ScaledRopeTableParams): Float32Array {
  const half = p.dims / 2;
  const out = new Float32Array(npos * p.dims);
  const step = f(Math.pow(f(p.theta), f(-2 / p.dims)));
  for (let q = 0; q < npos; q++) {
    let theta = f(pos0 + q);
    for (let i = 0; i < half; i++) {
      const extrap = f(theta / (p.freqFactors ? p.freqFactors[i]! : 1));
      const interp = f(f(p.freqScale) * extrap);
      const mix = p.ramp ? p.ramp[i]! : 0;
      const angle = p.ramp ? f(f(interp * f(1 - mix)) + f(extrap * mix)) : interp;
      out[q * p.dims + 2 * i] = f(f(Math.cos(angle)) * f(p.mscale));
      out[q * p.dims + 2 * i + 1] = f(f(Math.sin(angle)) * f(p.mscale));
      theta = f(theta * step);
    }
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const ulps = (a: number, b: number): number => {
  if (a === b) return 0;
  f32[0] = a;
  const ia = u32[0]!;
  f32[0] = b;
  const ib = u32[0]!;
  return (ia >>> 31) !== (ib >>> 31) ? (Math.abs(a) < 1e-30 && Math.abs(b) < 1e-30 ? 0 : Infinity) : Math.abs(ia - ib);
};

const ramp = (half: number, low: number, high: number) => Float32Array.from({ length: half }, (_, i) => 1 - Math.min(1, Math.max(0, f(f(i - low) / f(high - low)))));
const llama3 = (half: number) => Float32Array.from({ length: half }, (_, i) => (i < half / 4 ? 1 : i > (3 * half) / 4 ? 8 : f(1 + (7 * (i - half / 4)) / (half / 2))));
const CASES: { name: string; pos0: number; npos: number; p: ScaledRopeTableParams }[] = [
  { name: 'YaRN (factor 4, ramp over pairs 9…21, magnitude 0.93)', pos0: 0, npos: 300, p: { dims: 64, theta: 10000, freqScale: 0.25, freqFactors: null, ramp: ramp(32, 9, 21), mscale: f(0.9306) } },
  { name: 'YaRN at far positions, θ 1e6, dims 128', pos0: 30000, npos: 40, p: { dims: 128, theta: 1e6, freqScale: f(1 / 16), freqFactors: null, ramp: ramp(64, 20, 45), mscale: f(1.277) } },
  { name: 'Llama 3 divisors', pos0: 100, npos: 200, p: { dims: 64, theta: 500000, freqScale: 1, freqFactors: llama3(32), ramp: null, mscale: 1 } },
  { name: 'linear interpolation (factor 4)', pos0: 7, npos: 100, p: { dims: 32, theta: 10000, freqScale: 0.25, freqFactors: null, ramp: null, mscale: 1 } },
  { name: 'LongRoPE factors and magnitude, partial dims 6', pos0: 0, npos: 120, p: { dims: 6, theta: 10000, freqScale: 1, freqFactors: Float32Array.of(1, 1.5, 3.25), ramp: null, mscale: f(1.19) } },
];

describe("scaled RoPE's cos/sin table equals ggml's f32 recipe", () => {
  for (const c of CASES) {
    const want = ggmlScaled(c.pos0, c.npos, c.p);
    it(`js, bit for bit: ${c.name}`, () => {
      const got = new Float32Array(c.npos * c.p.dims);
      js.ropeScaledTable(got, c.pos0, c.npos, c.p);
      const at = got.findIndex((v, i) => v !== want[i]);
      expect(at, at < 0 ? '' : `entry ${at}: ${got[at]} vs ${want[at]}`).toBe(-1);
    });
    it(`native (C library cosf/sinf), within 2 ulps, most equal: ${c.name}`, () => {
      const got = new Float32Array(c.npos * c.p.dims).fill(NaN);
      native.ropeScaledTable(got, c.pos0, c.npos, c.p);
      let equal = 0;
      for (let i = 0; i < got.length; i++) {
        expect(ulps(got[i]!, want[i]!), `entry ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(2);
        equal += Number(got[i] === want[i]);
      }
      expect(equal / got.length).toBeGreaterThan(0.9);
    });
  }
  it('the f64 angle p · base^(-2i/dims) is a different table (the test can tell)', () => {
    const c = CASES[0]!;
    const want = ggmlScaled(c.pos0, c.npos, c.p);
    let far = 0;
    for (let q = 0; q < c.npos; q++)
      for (let i = 0; i < 32; i++) {
        const extrap = (c.pos0 + q) * Math.pow(10000, (-2 * i) / 64);
        const a = extrap * 0.25 * (1 - c.p.ramp![i]!) + extrap * c.p.ramp![i]!;
        if (ulps(f(Math.cos(a) * c.p.mscale), want[q * 64 + 2 * i]!) > 2) far++;
      }
    expect(far).toBeGreaterThan(100);
  });
  it('native rejects a short table, a wrong-length ramp or factor array, odd dims', () => {
    const p = CASES[0]!.p;
    expect(() => native.ropeScaledTable(new Float32Array(10), 0, 2, p)).toThrow(/table/);
    expect(() => native.ropeScaledTable(new Float32Array(128), 0, 2, { ...p, ramp: new Float32Array(5) })).toThrow(/ramp/);
    expect(() => native.ropeScaledTable(new Float32Array(128), 0, 2, { ...p, freqFactors: new Float32Array(5) })).toThrow(/freqFactors/);
    expect(() => native.ropeScaledTable(new Float32Array(128), 0, 2, { ...p, dims: 63 })).toThrow(/dims/);
    expect(() => js.ropeScaledTable(new Float32Array(10), 0, 2, p)).toThrow(/table/);
  });
});
