/**
 * Dequantize-row for every block type, bit-exact with ggml's `dequantize_row_*` (ggml-quants.c) and
 * gguf-py's numpy reference: each product is one f32 rounding, in ggml's order (scale × sub-scale
 * first, then × code, then − min). JS numbers are f64, so every intermediate that C holds in a
 * float is rounded with Math.fround; products of an f32 and a small integer are exact in f64 and
 * round once when stored into the Float32Array.
 *
 * Signature of each: (x, xo, y, yo, blocks) reads `blocks` blocks of x from byte xo and writes
 * blocks × blockSize floats into y from index yo.
 */
import type { DType } from '../weight-types.js';
import { f16Table } from './f16-table.js';

export type DequantizeBlocks = (x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number) => void;

const fr = Math.fround;
const i8 = (b: number): number => (b << 24) >> 24;

/** IQ4_NL / IQ4_XS codebook: a 4-bit code indexes these int8 values (ggml's kvalues_iq4nl). */
export const IQ4NL_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Q4_0: f16 d, 16 bytes; element j = low nibble of byte j, element j+16 = high nibble; (q − 8)·d. */
function q4_0(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 18, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = x[xo + 2 + j]!;
      y[yo + j] = ((q & 15) - 8) * d;
      y[yo + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** Q4_1: f16 d, f16 m, 16 bytes of nibbles as Q4_0; q·d + m. */
function q4_1(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 20, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const m = h[x[xo + 2]! | (x[xo + 3]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = x[xo + 4 + j]!;
      y[yo + j] = fr((q & 15) * d) + m;
      y[yo + j + 16] = fr((q >> 4) * d) + m;
    }
  }
}

/** Q5_0: f16 d, u32 qh (bit j = 5th bit of element j), 16 bytes of nibbles; (q − 16)·d. */
function q5_0(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 22, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const qh = (x[xo + 2]! | (x[xo + 3]! << 8) | (x[xo + 4]! << 16) | (x[xo + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = x[xo + 6 + j]!;
      y[yo + j] = (((q & 15) | (((qh >>> j) & 1) << 4)) - 16) * d;
      y[yo + j + 16] = (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
    }
  }
}

/** Q5_1: f16 d, f16 m, u32 qh, 16 bytes of nibbles; q·d + m. */
function q5_1(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 24, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const m = h[x[xo + 2]! | (x[xo + 3]! << 8)]!;
    const qh = (x[xo + 4]! | (x[xo + 5]! << 8) | (x[xo + 6]! << 16) | (x[xo + 7]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = x[xo + 8 + j]!;
      y[yo + j] = fr(((q & 15) | (((qh >>> j) & 1) << 4)) * d) + m;
      y[yo + j + 16] = fr(((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d) + m;
    }
  }
}

/** Q8_0: f16 d, 32 × int8; q·d. */
function q8_0(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 34, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    for (let j = 0; j < 32; j++) y[yo + j] = i8(x[xo + 2 + j]!) * d;
  }
}

/**
 * Q2_K (84 bytes): scales[16] (low nibble: scale, high: min, per 16 elements), qs[64] (2-bit codes),
 * f16 d, f16 dmin. Elements in 128-halves; within a half, shift 0/2/4/6 picks 32-element groups.
 */
function q2_k(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 84) {
    const d = h[x[xo + 80]! | (x[xo + 81]! << 8)]!;
    const min = h[x[xo + 82]! | (x[xo + 83]! << 8)]!;
    let is = 0;
    for (let n = 0; n < 256; n += 128) {
      const q = xo + 16 + n / 4;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 2; half++) {
          const sc = x[xo + is++]!;
          const dl = fr(d * (sc & 15)), ml = fr(min * (sc >> 4));
          for (let l = 0; l < 16; l++) y[yo++] = fr(dl * ((x[q + half * 16 + l]! >> shift) & 3)) - ml;
        }
      }
    }
  }
}

/** The 16 6-bit Q3_K scales (packed in 12 bytes at p), minus 32. */
function q3kScales(x: Uint8Array, p: number, out: Int8Array): void {
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? x[p + j]! & 15 : x[p + j - 8]! >> 4;
    const high = (x[p + 8 + (j & 3)]! >> (2 * (j >> 2))) & 3;
    out[j] = (low | (high << 4)) - 32;
  }
}

/**
 * Q3_K (110 bytes): hmask[32] (3rd bit, inverted: clear = −4), qs[64] (low 2 bits), scales[12]
 * (16 × 6 bits), f16 d. value = d·(scale−32)·(q − (hbit ? 0 : 4)).
 */
function q3_k(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  const scales = new Int8Array(16);
  for (let b = 0; b < blocks; b++, xo += 110) {
    const d = h[x[xo + 108]! | (x[xo + 109]! << 8)]!;
    q3kScales(x, xo + 96, scales);
    let is = 0, m = 1;
    for (let n = 0; n < 256; n += 128) {
      const q = xo + 32 + n / 4;
      for (let shift = 0; shift < 8; shift += 2, m <<= 1) {
        for (let half = 0; half < 2; half++) {
          const dl = fr(d * scales[is++]!);
          for (let l = 0; l < 16; l++) {
            const k = half * 16 + l;
            y[yo++] = dl * (((x[q + k]! >> shift) & 3) - (x[xo + k]! & m ? 0 : 4));
          }
        }
      }
    }
  }
}

/** Scale and min j (0..7) of a Q4_K/Q5_K block: 6 bits each, packed in the 12 bytes at p. */
export function scaleMinK4(x: Uint8Array, p: number, j: number): [number, number] {
  if (j < 4) return [x[p + j]! & 63, x[p + j + 4]! & 63];
  return [(x[p + j + 4]! & 15) | ((x[p + j - 4]! >> 6) << 4), (x[p + j + 4]! >> 4) | ((x[p + j]! >> 6) << 4)];
}

/** Q4_K (144 bytes): f16 d, f16 dmin, scales[12], qs[128]; 8 groups of 32: d·sc·q − dmin·m. */
function q4_k(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 144) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const min = h[x[xo + 2]! | (x[xo + 3]! << 8)]!;
    for (let j = 0; j < 4; j++) {
      const q = xo + 16 + 32 * j;
      const [s1, m1] = scaleMinK4(x, xo + 4, 2 * j);
      const [s2, m2] = scaleMinK4(x, xo + 4, 2 * j + 1);
      const d1 = fr(d * s1), n1 = fr(min * m1), d2 = fr(d * s2), n2 = fr(min * m2);
      for (let l = 0; l < 32; l++) y[yo++] = fr(d1 * (x[q + l]! & 15)) - n1;
      for (let l = 0; l < 32; l++) y[yo++] = fr(d2 * (x[q + l]! >> 4)) - n2;
    }
  }
}

/** Q5_K (176 bytes): f16 d, f16 dmin, scales[12], qh[32] (5th bits), qs[128]. */
function q5_k(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 176) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const min = h[x[xo + 2]! | (x[xo + 3]! << 8)]!;
    for (let j = 0; j < 4; j++) {
      const q = xo + 48 + 32 * j;
      const u1 = 1 << (2 * j), u2 = 2 << (2 * j);
      const [s1, m1] = scaleMinK4(x, xo + 4, 2 * j);
      const [s2, m2] = scaleMinK4(x, xo + 4, 2 * j + 1);
      const d1 = fr(d * s1), n1 = fr(min * m1), d2 = fr(d * s2), n2 = fr(min * m2);
      for (let l = 0; l < 32; l++) y[yo++] = fr(d1 * ((x[q + l]! & 15) + (x[xo + 16 + l]! & u1 ? 16 : 0))) - n1;
      for (let l = 0; l < 32; l++) y[yo++] = fr(d2 * ((x[q + l]! >> 4) + (x[xo + 16 + l]! & u2 ? 16 : 0))) - n2;
    }
  }
}

/** Q6_K (210 bytes): ql[128] (low 4 bits), qh[64] (high 2 bits), int8 scales[16], f16 d; d·sc·(q − 32). */
function q6_k(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 210, yo += 256) {
    const d = h[x[xo + 208]! | (x[xo + 209]! << 8)]!;
    for (let n = 0; n < 2; n++) {
      const ql = xo + 64 * n, qh = xo + 128 + 32 * n, sc = xo + 192 + 8 * n, o = yo + 128 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const hb = x[qh + l]!;
        const q1 = ((x[ql + l]! & 15) | ((hb & 3) << 4)) - 32;
        const q2 = ((x[ql + l + 32]! & 15) | (((hb >> 2) & 3) << 4)) - 32;
        const q3 = ((x[ql + l]! >> 4) | (((hb >> 4) & 3) << 4)) - 32;
        const q4 = ((x[ql + l + 32]! >> 4) | (((hb >> 6) & 3) << 4)) - 32;
        y[o + l] = fr(d * i8(x[sc + is]!)) * q1;
        y[o + l + 32] = fr(d * i8(x[sc + is + 2]!)) * q2;
        y[o + l + 64] = fr(d * i8(x[sc + is + 4]!)) * q3;
        y[o + l + 96] = fr(d * i8(x[sc + is + 6]!)) * q4;
      }
    }
  }
}

/** IQ4_NL: f16 d, 16 bytes of nibbles (as Q4_0) indexing the codebook; d·value. */
function iq4_nl(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 18, yo += 32) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = x[xo + 2 + j]!;
      y[yo + j] = d * IQ4NL_VALUES[q & 15]!;
      y[yo + j + 16] = d * IQ4NL_VALUES[q >> 4]!;
    }
  }
}

/** IQ4_XS (136 bytes): f16 d, u16 scales_h, scales_l[4], qs[128]; 8 groups of 32 with 6-bit scales − 32. */
function iq4_xs(x: Uint8Array, xo: number, y: Float32Array, yo: number, blocks: number): void {
  const h = f16Table();
  for (let b = 0; b < blocks; b++, xo += 136) {
    const d = h[x[xo]! | (x[xo + 1]! << 8)]!;
    const sh = x[xo + 2]! | (x[xo + 3]! << 8);
    for (let ib = 0; ib < 8; ib++, yo += 32) {
      const ls = ((x[xo + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 15) | (((sh >> (2 * ib)) & 3) << 4);
      const dl = fr(d * (ls - 32));
      const q = xo + 8 + 16 * ib;
      for (let j = 0; j < 16; j++) {
        y[yo + j] = dl * IQ4NL_VALUES[x[q + j]! & 15]!;
        y[yo + j + 16] = dl * IQ4NL_VALUES[x[q + j]! >> 4]!;
      }
    }
  }
}

/** The block dequantizer of every quantized type (float types are converted elsewhere). */
export const DEQUANTIZE_BLOCKS: Readonly<Record<Exclude<DType, 'f32' | 'f16' | 'bf16'>, DequantizeBlocks>> = {
  q4_0, q4_1, q5_0, q5_1, q8_0, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs,
};
