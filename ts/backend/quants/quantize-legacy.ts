/**
 * Quantizers of the 32-element block types, byte-exact with ggml's reference quantizers
 * (`quantize_row_q{4_0,4_1,5_0,5_1,8_0}_ref` in ggml-quants.c, which llama.cpp's quantizer runs
 * when no importance matrix is given). C evaluates every float expression in f32: each operation
 * here is rounded with Math.fround, and float → int casts truncate toward zero.
 *
 * Signature of each: (x, xo, y, yo, blocks) quantizes `blocks` × 32 floats of x from index xo into
 * y from byte yo.
 */
import { numberToF16 } from '../js/conversions.js';

const fr = Math.fround;

function putF16(y: Uint8Array, p: number, v: number): void {
  const h = numberToF16(v);
  y[p] = h & 0xff;
  y[p + 1] = h >>> 8;
}

function putU32(y: Uint8Array, p: number, v: number): void {
  y[p] = v & 0xff;
  y[p + 1] = (v >>> 8) & 0xff;
  y[p + 2] = (v >>> 16) & 0xff;
  y[p + 3] = (v >>> 24) & 0xff;
}

/** The value of largest magnitude in x[o, o+n) (the first one on ties). */
function signedAbsMax(x: Float32Array, o: number, n: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < n; j++) {
    const v = x[o + j]!;
    if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
  }
  return max;
}

/** Q4_0: d = max/−8 (max: the signed value of largest magnitude), code = min(15, trunc(x/d + 8.5)). */
export function quantizeQ4_0(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++, xo += 32, yo += 18) {
    const d = fr(signedAbsMax(x, xo, 32) / -8);
    const id = d ? fr(1 / d) : 0;
    putF16(y, yo, d);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(fr(fr(x[xo + j]! * id) + 8.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr(x[xo + 16 + j]! * id) + 8.5)));
      y[yo + 2 + j] = q0 | (q1 << 4);
    }
  }
}

/** Min and max of x[o, o+32). */
function minMax(x: Float32Array, o: number): [number, number] {
  let min = 3.4028234663852886e38, max = -3.4028234663852886e38;
  for (let j = 0; j < 32; j++) {
    const v = x[o + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** Q4_1: d = (max − min)/15, m = min, code = min(15, trunc((x − min)/d + 0.5)). */
export function quantizeQ4_1(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++, xo += 32, yo += 20) {
    const [min, max] = minMax(x, xo);
    const d = fr(fr(max - min) / 15);
    const id = d ? fr(1 / d) : 0;
    putF16(y, yo, d);
    putF16(y, yo + 2, min);
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(15, Math.trunc(fr(fr(fr(x[xo + j]! - min) * id) + 0.5)));
      const q1 = Math.min(15, Math.trunc(fr(fr(fr(x[xo + 16 + j]! - min) * id) + 0.5)));
      y[yo + 4 + j] = q0 | (q1 << 4);
    }
  }
}

/** Q5_0: d = max/−16, code = min(31, trunc(x/d + 16.5)); the 5th bits go to qh. */
export function quantizeQ5_0(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++, xo += 32, yo += 22) {
    const d = fr(signedAbsMax(x, xo, 32) / -16);
    const id = d ? fr(1 / d) : 0;
    putF16(y, yo, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.min(31, Math.trunc(fr(fr(x[xo + j]! * id) + 16.5)));
      const q1 = Math.min(31, Math.trunc(fr(fr(x[xo + 16 + j]! * id) + 16.5)));
      y[yo + 6 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= ((q0 >> 4) << j) | ((q1 >> 4) << (j + 16));
    }
    putU32(y, yo + 2, qh >>> 0);
  }
}

/** Q5_1: d = (max − min)/31, m = min, code = trunc((x − min)/d + 0.5); the 5th bits go to qh. */
export function quantizeQ5_1(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++, xo += 32, yo += 24) {
    const [min, max] = minMax(x, xo);
    const d = fr(fr(max - min) / 31);
    const id = d ? fr(1 / d) : 0;
    putF16(y, yo, d);
    putF16(y, yo + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const q0 = Math.trunc(fr(fr(fr(x[xo + j]! - min) * id) + 0.5)) & 0xff;
      const q1 = Math.trunc(fr(fr(fr(x[xo + 16 + j]! - min) * id) + 0.5)) & 0xff;
      y[yo + 8 + j] = (q0 & 15) | ((q1 & 15) << 4);
      qh |= (((q0 & 0x10) >> 4) << j) | (((q1 & 0x10) >> 4) << (j + 16));
    }
    putU32(y, yo + 4, qh >>> 0);
  }
}

/** Q8_0: d = amax/127, q = roundf(x/d) (half away from zero). */
export function quantizeQ8_0(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  for (let b = 0; b < blocks; b++, xo += 32, yo += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]!));
    const d = fr(amax / 127);
    const id = d ? fr(1 / d) : 0;
    putF16(y, yo, d);
    for (let j = 0; j < 32; j++) {
      const v = fr(x[xo + j]! * id);
      y[yo + 2 + j] = (v < 0 ? -Math.round(-v) : Math.round(v)) & 0xff;
    }
  }
}
