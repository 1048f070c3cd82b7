/**
 * Activation quantization as ggml's CPU backend does it before an integer dot product: each input
 * row is quantized once to the weight type's activation type (weight-types.ts `activation`).
 * The JS backend works in f32, so it takes the activations through that quantization and back
 * ("round trip"): the dot product of the dequantized weights with these values equals ggml's
 * Σ q_w·q_a · d_w · d_a up to the order of the float additions.
 *
 * - q8_0 / q8_1 (x86, what llama.cpp runs on this CPU family, ggml-cpu/arch/x86/quants.c):
 *   per 32 values d = amax/127 stored as f16, q = round-half-even(x · (127/amax)).
 * - q8_k (quantize_row_q8_K_ref): per 256 values, max = the value of largest magnitude (first one),
 *   iscale = −127/max, q = min(127, nearest_int(iscale·x)), d = 1/iscale kept as f32.
 * - f16 / bf16 (for f16 / bf16 weights): each value rounded to nearest even.
 * Q8_1's dot product also uses s = f16(d·Σq) with the unrounded d, where the round trip has
 * f16(d)·Σq: q8_1Correction gives the difference per block (see ../js/matmul.ts).
 */
import type { ActivationType } from '../weight-types.js';
import { f16Table } from './f16-table.js';
import { f32BitsToBf16, numberToF16 } from '../js/conversions.js';

const fr = Math.fround;

/** Round half to even (what `_mm256_round_ps(…, _MM_ROUND_NEAREST)` and ggml's nearest_int do). */
export function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && (r & 1) !== 0 ? r - 1 : r;
}

/** Q8_0/Q8_1 round trip of n values (n a multiple of 32). */
function roundTripQ8_0(out: Float32Array, x: Float32Array, xo: number, n: number): void {
  const h = f16Table();
  for (let b = 0; b < n; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(x[xo + b + j]!);
      if (a > amax) amax = a;
    }
    const d = h[numberToF16(fr(amax / 127))]!;
    const id = amax !== 0 ? fr(127 / amax) : 0;
    for (let j = 0; j < 32; j++) out[b + j] = d * rint(fr(x[xo + b + j]! * id));
  }
}

/** Q8_K round trip of n values (n a multiple of 256). */
function roundTripQ8_K(out: Float32Array, x: Float32Array, xo: number, n: number): void {
  for (let b = 0; b < n; b += 256) {
    let amax = 0, max = 0;
    for (let j = 0; j < 256; j++) {
      const v = x[xo + b + j]!;
      const a = Math.abs(v);
      if (a > amax) { amax = a; max = v; }
    }
    if (amax === 0) {
      out.fill(0, b, b + 256);
      continue;
    }
    const iscale = fr(-127 / max);
    const d = fr(1 / iscale);
    for (let j = 0; j < 256; j++) out[b + j] = d * Math.min(127, rint(fr(iscale * x[xo + b + j]!)));
  }
}

/**
 * Row `row` of x (rows of length n) as the dot product of a weight type sees it: copied for f32,
 * else quantized to the activation type and expanded back to f32, into out[0, n).
 */
export function activationRow(out: Float32Array, x: Float32Array, row: number, n: number, type: ActivationType): void {
  const xo = row * n;
  if (type === 'f32') out.set(x.subarray(xo, xo + n));
  else if (type === 'f16') {
    const h = f16Table();
    for (let i = 0; i < n; i++) out[i] = h[numberToF16(x[xo + i]!)]!;
  } else if (type === 'bf16') {
    const bits = new Uint32Array(out.buffer, out.byteOffset, n);
    const xb = new Uint32Array(x.buffer, x.byteOffset + xo * 4, n);
    for (let i = 0; i < n; i++) bits[i] = (f32BitsToBf16(xb[i]!) << 16) >>> 0;
  }
  else if (type === 'q8_k') roundTripQ8_K(out, x, xo, n);
  else roundTripQ8_0(out, x, xo, n);
}

/**
 * Per 32-block of row `row`: s − f16(d)·Σq, where s = f16(d·Σq) is the sum Q8_1 stores (d the
 * unrounded amax/127). A Q4_1/Q5_1 dot product adds m·s per block; the round trip gives m·f16(d)·Σq.
 */
export function q8_1Correction(out: Float64Array, x: Float32Array, row: number, n: number): void {
  const h = f16Table();
  const xo = row * n;
  for (let b = 0; b < n; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + b + j]!));
    const d = fr(amax / 127);
    const id = amax !== 0 ? fr(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) sum += rint(fr(x[xo + b + j]! * id));
    out[b / 32] = h[numberToF16(fr(d * sum))]! - h[numberToF16(d)]! * sum;
  }
}
