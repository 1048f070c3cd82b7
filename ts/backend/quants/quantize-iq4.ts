/**
 * Quantizers of the non-linear 4-bit types IQ4_NL and IQ4_XS, byte-exact with what llama.cpp's
 * quantizer writes without an importance matrix (`quantize_iq4_nl` / `quantize_iq4_xs` →
 * quantize_row_iq4_nl_impl with ntry = 7, ggml-quants.c): per 32 values, the scale is searched over
 * 15 candidates, each value taking the nearest codebook entry; IQ4_XS then quantizes the eight
 * 32-block scales to 6 bits against one f16 super-scale and re-picks the codes.
 */
import { numberToF16 } from '../js/conversions.js';
import { rint } from './activations.js';
import { IQ4NL_VALUES } from './dequantize.js';

const fr = Math.fround;
const GROUP_MAX_EPS = fr(1e-15);
const NTRY = 7;
const V = IQ4NL_VALUES;

/** Index of the codebook value nearest to v (best_index_int8; ties go up). */
function bestIndex(v: number): number {
  if (v <= V[0]!) return 0;
  if (v >= V[15]!) return 15;
  let ml = 0, mu = 15;
  while (mu - ml > 1) {
    const mav = (ml + mu) >> 1;
    if (v < V[mav]!) mu = mav;
    else ml = mav;
  }
  return fr(v - V[mu - 1]!) < fr(V[mu]! - v) ? mu - 1 : mu;
}

/** The best scale for the 32 values of x at xo (codes to L at lo), or 0 for an all-zero block. */
function blockScale(x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let amax = 0, max = 0;
  for (let j = 0; j < 32; j++) {
    const ax = Math.abs(x[xo + j]!);
    if (ax > amax) { amax = ax; max = x[xo + j]!; }
  }
  if (amax < GROUP_MAX_EPS) return 0;
  let d = fr(-max / V[0]!);
  let id = fr(1 / d);
  let sumqx = 0, sumq2 = 0;
  for (let j = 0; j < 32; j++) {
    const xj = x[xo + j]!;
    const l = bestIndex(fr(id * xj));
    L[lo + j] = l;
    const q = V[l]!, w = fr(xj * xj);
    sumqx = fr(sumqx + fr(fr(w * q) * xj));
    sumq2 = fr(sumq2 + fr(fr(w * q) * q));
  }
  d = sumq2 > 0 ? fr(sumqx / sumq2) : 0;
  let best = fr(d * sumqx);
  for (let itry = -NTRY; itry <= NTRY; itry++) {
    id = fr((itry + V[0]!) / max);
    sumqx = 0;
    sumq2 = 0;
    for (let j = 0; j < 32; j++) {
      const xj = x[xo + j]!;
      const q = V[bestIndex(fr(id * xj))]!, w = fr(xj * xj);
      sumqx = fr(sumqx + fr(fr(w * q) * xj));
      sumq2 = fr(sumq2 + fr(fr(w * q) * q));
    }
    if (sumq2 > 0 && fr(sumqx * sumqx) > fr(best * sumq2)) {
      d = fr(sumqx / sumq2);
      best = fr(d * sumqx);
    }
  }
  return d;
}

function putF16(y: Uint8Array, p: number, v: number): void {
  const h = numberToF16(v);
  y[p] = h & 0xff;
  y[p + 1] = h >>> 8;
}

/** Packs 32 codes of L at lo: byte j holds codes j (low nibble) and j+16 (high). */
function pack4(L: Uint8Array, lo: number, y: Uint8Array, p: number): void {
  for (let j = 0; j < 16; j++) y[p + j] = L[lo + j]! | (L[lo + 16 + j]! << 4);
}

/** IQ4_NL: f16 d, 16 bytes of codebook indices. */
export function quantizeIQ4_NL(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(32);
  for (let b = 0; b < blocks; b++, xo += 32, yo += 18) {
    const d = blockScale(x, xo, L, 0);
    putF16(y, yo, d);
    const id = d ? fr(1 / d) : 0;
    for (let j = 0; j < 32; j++) L[j] = bestIndex(fr(id * x[xo + j]!));
    pack4(L, 0, y, yo + 2);
  }
}

/** IQ4_XS: f16 d, 8 × 6-bit scales (scales_h, scales_l), 128 bytes of codebook indices. */
export function quantizeIQ4_XS(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(256), scales = new Float32Array(8);
  for (let b = 0; b < blocks; b++, xo += 256, yo += 136) {
    y.fill(0, yo, yo + 136);
    let maxScale = 0, amaxScale = 0;
    for (let ib = 0; ib < 8; ib++) {
      scales[ib] = blockScale(x, xo + 32 * ib, L, 32 * ib);
      const a = Math.abs(scales[ib]!);
      if (a > amaxScale) { amaxScale = a; maxScale = scales[ib]!; }
    }
    const d = fr(-maxScale / 32);
    putF16(y, yo, d);
    const id = d ? fr(1 / d) : 0;
    let scalesH = 0;
    for (let ib = 0; ib < 8; ib++) {
      let l = Math.max(-32, Math.min(31, rint(fr(id * scales[ib]!))));
      const dl = fr(d * l);
      const idl = dl ? fr(1 / dl) : 0;
      for (let j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(fr(idl * x[xo + 32 * ib + j]!));
      l += 32;
      if (ib % 2 === 0) y[yo + 4 + (ib >> 1)] = l & 15;
      else y[yo + 4 + (ib >> 1)] |= (l & 15) << 4;
      scalesH |= (l >> 4) << (2 * ib);
    }
    y[yo + 2] = scalesH & 0xff;
    y[yo + 3] = scalesH >>> 8;
    for (let i = 0; i < 8; i++) pack4(L, 32 * i, y, yo + 8 + 16 * i);
  }
}
