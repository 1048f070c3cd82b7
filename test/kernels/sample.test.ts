/**
 * Sampling helpers (sampleWeights, sampleDraw): every native ISA path against the plain-TS
 * reference (ts/backend/js/sampling.ts, the loops the Sampler ran before), and bad calls.
 *
 * Tolerances: the weights are exp in double rounded to f32 — the SIMD paths' polynomial is within
 * 2 ulp of double, so a stored weight may differ from the reference's by one f32 ulp at most (2^-23
 * relative), and the double sum by the rounding of a serial sum of n terms (n·2^-53 relative).
 * The draw is the same serial loop everywhere: exact.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../ts/generate/rng.js';
import { resolveSampling, Sampler } from '../../ts/generate/sampler.js';
import { expectClose, js, native, randomArray, variants, withVariant } from './variants.js';

const SIZES = [1, 3, 7, 8, 15, 16, 17, 33, 1000, 32000];
const F32_ULP = 2 ** -23;

function weights(b: typeof js, logits: Float32Array, invT: number): { prob: Float32Array; sum: number } {
  const prob = new Float32Array(logits.length);
  const sum = b.sampleWeights(prob, logits, invT);
  return { prob, sum };
}

for (const variant of variants()) {
  describe.skipIf(variant.skip !== undefined)(`sampling (${variant.title})`, () => {
    it.each(SIZES)('sampleWeights, n %i, against the reference', (n) => {
      for (const [lo, hi, invT] of [
        [-15, 15, 1 / 0.8],
        [-4, 4, 1],
        [-30, 30, 20], // sharp: most weights far below f32's range
        [-1000, 0, 1], // arguments below −708: zero in every variant
      ] as const) {
        const logits = randomArray(n, n * 7 + hi, lo, hi);
        if (n > 4) logits[3] = -Infinity; // a masked token
        const ref = weights(js, logits, invT);
        withVariant(variant, () => {
          const got = weights(native, logits, invT);
          expectClose(got.prob, ref.prob, 0, F32_ULP, `prob, range [${lo}, ${hi}], 1/T ${invT}`);
          // the reference's own serial sum carries up to n·2^-53 relative rounding
          expect(Math.abs(got.sum - ref.sum) / ref.sum, `sum ${got.sum} vs ${ref.sum}`).toBeLessThan(Math.max(1e-15, n * 2 ** -52));
          expect(got.prob.reduce((m, p) => Math.max(m, p), 0)).toBe(1); // exp(0) at the maximum
        });
      }
    });

    it('sampleWeights: NaN, ±inf maxima and an all −inf row give NaN, as the reference', () => {
      withVariant(variant, () => {
        for (const n of [5, 40]) {
          const base = randomArray(n, n, -3, 3);
          const cases: [string, Float32Array][] = [
            ['a NaN', Object.assign(base.slice(), { [n - 1]: NaN })],
            ['+inf', Object.assign(base.slice(), { [1]: Infinity })],
            ['all -inf', new Float32Array(n).fill(-Infinity)],
          ];
          for (const [what, l] of cases) {
            expect(weights(js, l, 1).sum, what).toBeNaN();
            expect(weights(native, l, 1).sum, what).toBeNaN();
          }
        }
      });
    });

    it('sampleDraw: the same index as the reference for draws across the whole mass', () => {
      const logits = randomArray(32000, 11, -10, 10);
      const { prob, sum } = weights(js, logits, 1.25);
      const rng = new Rng(5);
      withVariant(variant, () => {
        for (let i = 0; i < 300; i++) {
          const r = rng.next() * sum;
          const n = i % 3 === 0 ? 1 + (i * 97) % 32000 : 32000;
          expect(native.sampleDraw(prob, n, r)).toBe(js.sampleDraw(prob, n, r));
        }
        expect(native.sampleDraw(prob, 32000, sum * 2)).toBe(31999); // r beyond the mass: the last one
        expect(native.sampleDraw(prob, 32000, 0)).toBe(js.sampleDraw(prob, 32000, 0));
      });
    });

    it('a Sampler on these kernels draws the same tokens as on the reference (32k vocabulary, seeded)', () => {
      const V = 32000;
      const argmax = (x: Float32Array) => native.argmax(x);
      const ours = new Sampler(V, argmax, native);
      const ref = new Sampler(V, argmax, js);
      for (const o of [{ temperature: 0.8 }, { temperature: 1.1, minP: 0.05 }, { temperature: 0.7, topP: 0.9 }]) {
        ours.reset(resolveSampling({ seed: 42, ...o }));
        ref.reset(resolveSampling({ seed: 42, ...o }));
        withVariant(variant, () => {
          for (let step = 0; step < 60; step++) {
            const logits = randomArray(V, 1000 + step, -8, 8);
            const a = ours.sample(logits.slice(), new Int32Array(0), 0);
            const b = ref.sample(logits.slice(), new Int32Array(0), 0);
            expect(a, `${JSON.stringify(o)}, step ${step}`).toBe(b);
          }
        });
      }
    });
  });
}

describe.each([
  ['native', native],
  ['js', js],
] as const)('sampling helpers (%s) reject bad calls with a named error', (_name, b) => {
  const f = (n: number) => new Float32Array(n);
  it('sampleWeights: kinds, lengths, temperature', () => {
    expect(() => b.sampleWeights(f(4), f(4), 1)).not.toThrow();
    expect(() => b.sampleWeights(f(3), f(4), 1)).toThrow(/prob has 3 elements, expected 4/);
    expect(() => b.sampleWeights(f(0), f(0), 1)).toThrow(/logits must have at least one element/);
    expect(() => b.sampleWeights(f(4), new Float64Array(4) as unknown as Float32Array, 1)).toThrow(/logits must be a Float32Array/);
    expect(() => b.sampleWeights(f(4), f(4), 0)).toThrow(/invTemperature must be a finite number > 0/);
    expect(() => b.sampleWeights(f(4), f(4), Infinity)).toThrow(/invTemperature/);
    expect(() => b.sampleWeights(f(4), f(4), '1' as unknown as number)).toThrow(/invTemperature must be a number/);
  });
  it('sampleDraw: n in [1, prob.length], r finite and ≥ 0, detached buffers', () => {
    expect(b.sampleDraw(Float32Array.of(0.5, 0.5), 2, 0.7)).toBe(1);
    expect(() => b.sampleDraw(f(4), 5, 0)).toThrow(/n must be in \[1, 4\], got 5/);
    expect(() => b.sampleDraw(f(4), 0, 0)).toThrow(/n must be in \[1, 4\]/);
    expect(() => b.sampleDraw(f(4), 1.5, 0)).toThrow(/n must be an integer/);
    expect(() => b.sampleDraw(f(4), 4, -1)).toThrow(/r must be a finite number >= 0/);
    expect(() => b.sampleDraw(f(4), 4, NaN)).toThrow(/r must be a finite number >= 0/);
    const d = f(8);
    structuredClone(d.buffer, { transfer: [d.buffer] });
    expect(() => b.sampleDraw(d, 1, 0)).toThrow(/prob has a detached ArrayBuffer/);
  });
});
