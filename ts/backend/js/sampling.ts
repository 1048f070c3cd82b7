/**
 * The sampling helpers in plain TypeScript: the loops the Sampler ran before it had native help
 * (ts/generate/sampler.ts), kept as the reference the native kernels (native/kernels/sample*.cpp)
 * are tested against. Same argument checks as native/binding/sample.cpp.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import type { SamplingOps } from '../types.js';

function sampleWeights(prob: Float32Array, logits: Float32Array, invTemperature: number): number {
  expectArray('logits', logits, Float32Array);
  if (logits.length === 0) throw new RangeError('tensorloom: logits must have at least one element');
  expectArray('prob', prob, Float32Array);
  expectLength('prob', prob, logits.length, `[${logits.length}] like logits`);
  if (typeof invTemperature !== 'number') throw new TypeError('tensorloom: invTemperature must be a number');
  if (!(invTemperature > 0) || !Number.isFinite(invTemperature)) throw new RangeError('tensorloom: invTemperature must be a finite number > 0');
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[i]!); // a NaN makes max NaN
  if (!Number.isFinite(max)) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.exp((logits[i]! - max) * invTemperature);
    prob[i] = p;
    sum += p;
  }
  return sum;
}

function sampleDraw(prob: Float32Array, n: number, r: number): number {
  expectArray('prob', prob, Float32Array);
  if (prob.length === 0) throw new RangeError('tensorloom: prob must have at least one element');
  expectDim('n', n, 1, prob.length);
  if (typeof r !== 'number') throw new TypeError('tensorloom: r must be a number');
  if (!(r >= 0) || !Number.isFinite(r)) throw new RangeError('tensorloom: r must be a finite number >= 0');
  for (let j = 0; j < n; j++) {
    r -= prob[j]!;
    if (r < 0) return j;
  }
  return n - 1; // rounding left r ≥ 0: the last candidate
}

export const jsSampling: SamplingOps = { sampleWeights, sampleDraw };
