/**
 * Quantizers of the K-quants (256-element super-blocks), byte-exact with ggml's reference
 * quantizers `quantize_row_q{2,3,4,5,6}_K_ref` (ggml-quants.c), which llama.cpp's quantizer runs
 * when no importance matrix is given. Each super-block is cut into 16- or 32-element sub-blocks;
 * a search picks each sub-block's scale (and min), then the sub-block scales are themselves
 * quantized against one f16 super-scale. Every float operation is rounded to f32 (Math.fround)
 * in C's order, since the searches compare sums whose last bits decide ties.
 *
 * Signature of each: (x, xo, y, yo, blocks) quantizes `blocks` × 256 floats of x from index xo
 * into y from byte yo.
 */
import { f16Table } from './f16-table.js';
import { rint } from './activations.js';
import { numberToF16 } from '../js/conversions.js';

const fr = Math.fround;
/** ggml's GROUP_MAX_EPS: a group whose largest magnitude is below it counts as all zero. */
const GROUP_MAX_EPS = fr(1e-15);

/** ggml's nearest_int: round half to even (exact for |v| < 2^22, all it is used for). */
const nearestInt = rint;
const clamp = (v: number, lo: number, hi: number): number => Math.max(lo, Math.min(hi, v));

function putF16(y: Uint8Array, p: number, v: number): number {
  const h = numberToF16(v);
  y[p] = h & 0xff;
  y[p + 1] = h >>> 8;
  return f16Table()[h]!;
}

/**
 * make_qx_quants: symmetric codes L in [0, 2·nmax) (offset by nmax) for n values of x at xo,
 * scale chosen by weighted least squares over 19 candidate inverse scales. rmseType 1 only
 * (weights x²), the one the reference quantizers use. Returns the scale.
 */
function makeQxQuants(n: number, nmax: number, x: Float32Array, xo: number, L: Uint8Array, lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) { amax = ax; max = x[xo + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  let iscale = fr(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clamp(nearestInt(fr(iscale * xi)), -nmax, nmax - 1);
    L[lo + i] = l + nmax;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = clamp(nearestInt(fr(iscale * xi)), -nmax, nmax - 1);
      const w = fr(xi * xi);
      sumlx = fr(sumlx + fr(fr(w * xi) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[lo + i] = nmax + clamp(nearestInt(fr(iscale * x[xo + i]!)), -nmax, nmax - 1);
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/**
 * make_q3_quants with do_rmse: symmetric codes (offset by nmax), refined by up to 5 passes of
 * coordinate descent on the x²-weighted error. Returns the scale.
 */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, xo: number, L: Int8Array, lo: number): number {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[xo + i]!);
    if (ax > amax) { amax = ax; max = x[xo + i]!; }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, lo, lo + n);
    return 0;
  }
  const iscale = fr(-nmax / max);
  let sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const xi = x[xo + i]!;
    const l = clamp(nearestInt(fr(iscale * xi)), -nmax, nmax - 1);
    L[lo + i] = l;
    const w = fr(xi * xi);
    sumlx = fr(sumlx + fr(fr(w * xi) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const w = fr(xi * xi);
      const li = L[lo + i]!;
      let slx = fr(sumlx - fr(fr(w * xi) * li));
      if (slx > 0) {
        let sl2 = fr(suml2 - fr(fr(w * li) * li));
        const nl = clamp(nearestInt(fr(fr(xi * sl2) / slx)), -nmax, nmax - 1);
        if (nl !== li) {
          slx = fr(slx + fr(fr(w * xi) * nl));
          sl2 = fr(sl2 + fr(fr(w * nl) * nl));
          if (sl2 > 0 && fr(fr(slx * slx) * suml2) > fr(fr(sumlx * sumlx) * sl2)) {
            L[lo + i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[lo + i] = L[lo + i]! + nmax;
  return suml2 > 0 ? fr(sumlx / suml2) : 0;
}

/**
 * make_qkx2_quants: asymmetric codes L in [0, nmax] with a scale and a min (returned as −min in
 * out[1]), searched over nstep+1 candidate scales by weighted least squares; useMad weighs
 * absolute instead of squared errors. Returns the scale in out[0].
 */
function makeQkx2Quants(
  n: number, nmax: number, x: Float32Array, xo: number, weights: Float32Array, L: Uint8Array, lo: number, Laux: Uint8Array,
  rmin: number, rdelta: number, nstep: number, useMad: boolean, out: Float32Array,
): void {
  let min = x[xo]!, max = x[xo]!;
  let sumW = weights[0]!;
  let sumX = fr(sumW * x[xo]!);
  for (let i = 1; i < n; i++) {
    const xi = x[xo + i]!;
    if (xi < min) min = xi;
    if (xi > max) max = xi;
    const w = weights[i]!;
    sumW = fr(sumW + w);
    sumX = fr(sumX + fr(w * xi));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, lo, lo + n);
    out[0] = 0;
    out[1] = -min;
    return;
  }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = clamp(nearestInt(fr(iscale * fr(x[xo + i]! - min))), 0, nmax);
    L[lo + i] = l;
    let diff = fr(fr(fr(scale * l) + min) - x[xo + i]!);
    diff = useMad ? Math.abs(diff) : fr(diff * diff);
    bestError = fr(bestError + fr(weights[i]! * diff));
  }
  for (let is = 0; is <= nstep; is++) {
    // min is the best fit so far: later candidates are spread over max − that min
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const xi = x[xo + i]!;
      const l = clamp(nearestInt(fr(iscale * fr(xi - min))), 0, nmax);
      Laux[i] = l;
      const w = weights[i]!;
      sumL = fr(sumL + fr(w * l));
      sumL2 = fr(sumL2 + fr(fr(w * l) * l));
      sumXL = fr(sumXL + fr(fr(w * l) * xi));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let thisScale = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let thisMin = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = fr(sumXL / sumL2);
      }
      let curError = 0;
      for (let i = 0; i < n; i++) {
        let diff = fr(fr(fr(thisScale * Laux[i]!) + thisMin) - x[xo + i]!);
        diff = useMad ? Math.abs(diff) : fr(diff * diff);
        curError = fr(curError + fr(weights[i]! * diff));
      }
      if (curError < bestError) {
        for (let i = 0; i < n; i++) L[lo + i] = Laux[i]!;
        bestError = curError;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  out[0] = scale;
  out[1] = -min;
}

/** Packs 256 2-bit codes: byte l of each 32-byte group holds codes l, l+32, l+64, l+96. */
function pack2(L: Uint8Array | Int8Array, y: Uint8Array, p: number): void {
  for (let j = 0; j < 256; j += 128) {
    for (let l = 0; l < 32; l++) {
      y[p + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
    }
  }
}

/** Q2_K: 16 sub-blocks of 16, 2-bit codes, 4-bit scale and 4-bit min per sub-block. */
export function quantizeQ2_K(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(256), Laux = new Uint8Array(16), weights = new Float32Array(16);
  const scales = new Float32Array(16), mins = new Float32Array(16), sm = new Float32Array(2);
  const q4scale = 15;
  for (let b = 0; b < blocks; b++, xo += 256, yo += 84) {
    y.fill(0, yo, yo + 84);
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 16; j++) {
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(x[xo + 16 * j + l]!);
      makeQkx2Quants(16, 3, x, xo + 16 * j, weights, L, 16 * j, Laux, -0.5, fr(0.1), 15, true, sm);
      scales[j] = sm[0]!;
      mins[j] = sm[1]!;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    let d = 0, dmin = 0;
    if (maxScale > 0) {
      const iscale = fr(q4scale / maxScale);
      for (let j = 0; j < 16; j++) y[yo + j] = nearestInt(fr(iscale * scales[j]!)) & 0xff;
      d = putF16(y, yo + 80, fr(maxScale / q4scale));
    } else {
      d = putF16(y, yo + 80, 0);
    }
    if (maxMin > 0) {
      const iscale = fr(q4scale / maxMin);
      for (let j = 0; j < 16; j++) y[yo + j] = (y[yo + j]! | (nearestInt(fr(iscale * mins[j]!)) << 4)) & 0xff;
      dmin = putF16(y, yo + 82, fr(maxMin / q4scale));
    } else {
      dmin = putF16(y, yo + 82, 0);
    }
    for (let j = 0; j < 16; j++) {
      const dl = fr(d * (y[yo + j]! & 15));
      if (!dl) continue;
      const dm = fr(dmin * (y[yo + j]! >> 4));
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(fr(fr(x[xo + 16 * j + i]! + dm) / dl)), 0, 3);
    }
    pack2(L, y, yo + 16);
  }
}

/** Q3_K: 16 sub-blocks of 16, 3-bit codes (high bit in hmask), 6-bit signed scales. */
export function quantizeQ3_K(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Int8Array(256), scales = new Float32Array(16);
  for (let b = 0; b < blocks; b++, xo += 256, yo += 110) {
    y.fill(0, yo, yo + 110);
    let maxScale = 0, amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3Quants(16, 4, x, xo + 16 * j, L, 16 * j);
      const s = Math.abs(scales[j]!);
      if (s > amax) { amax = s; maxScale = scales[j]!; }
    }
    const sc = yo + 96; // 12 bytes of packed scales
    let d = 0;
    if (maxScale) {
      const iscale = fr(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(fr(iscale * scales[j]!)) << 24) >> 24; // stored in an int8_t
        l = clamp(l, -32, 31) + 32;
        if (j < 8) y[sc + j] = l & 15;
        else y[sc + j - 8] |= (l & 15) << 4;
        y[sc + 8 + (j % 4)] |= (l >> 4) << (2 * (j >> 2));
      }
      d = putF16(y, yo + 108, fr(1 / iscale));
    } else {
      d = putF16(y, yo + 108, 0);
    }
    for (let j = 0; j < 16; j++) {
      const low = j < 8 ? y[sc + j]! & 15 : y[sc + j - 8]! >> 4;
      const s = (low | (((y[sc + 8 + (j % 4)]! >> (2 * (j >> 2))) & 3) << 4)) - 32;
      const dl = fr(d * s);
      if (!dl) continue;
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(fr(x[xo + 16 * j + i]! / dl)), -4, 3) + 4;
    }
    // high bit of code j goes to hmask[j % 32], bit j / 32
    for (let j = 0; j < 256; j++) {
      if (L[j]! > 3) {
        y[yo + (j % 32)] |= 1 << (j >> 5);
        L[j] = L[j]! - 4;
      }
    }
    pack2(L, y, yo + 32);
  }
}

/** Packs 6-bit scale/min pairs of 8 sub-blocks into the 12-byte K4 layout (inverse of scaleMinK4). */
function packScaleMinK4(y: Uint8Array, p: number, j: number, ls: number, lm: number): void {
  if (j < 4) {
    y[p + j] = ls;
    y[p + j + 4] = lm;
  } else {
    y[p + j + 4] = (ls & 15) | ((lm & 15) << 4);
    y[p + j - 4] |= (ls >> 4) << 6;
    y[p + j] |= (lm >> 4) << 6;
  }
}

/**
 * Q4_K / Q5_K share everything but the code width: 8 sub-blocks of 32, codes in [0, nmax],
 * 6-bit scales and mins. Fills L (codes) and the header (d, dmin, scales at yo + 4).
 */
function quantizeK45(x: Float32Array, xo: number, y: Uint8Array, yo: number, nmax: number, rmin: number, nstep: number, L: Uint8Array): void {
  const weights = new Float32Array(32), Laux = new Uint8Array(32), sm = new Float32Array(2);
  const scales = new Float32Array(8), mins = new Float32Array(8);
  let maxScale = 0, maxMin = 0;
  for (let j = 0; j < 8; j++) {
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(x[xo + 32 * j + l]! * x[xo + 32 * j + l]!));
    const avX = fr(Math.sqrt(fr(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = fr(avX + Math.abs(x[xo + 32 * j + l]!));
    makeQkx2Quants(32, nmax, x, xo + 32 * j, weights, L, 32 * j, Laux, rmin, fr(0.1), nstep, false, sm);
    scales[j] = sm[0]!;
    mins[j] = sm[1]!;
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const invScale = maxScale > 0 ? fr(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(fr(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(fr(invMin * mins[j]!)) & 0xff);
    packScaleMinK4(y, yo + 4, j, ls, lm);
  }
  const d = putF16(y, yo, fr(maxScale / 63));
  const dmin = putF16(y, yo + 2, fr(maxMin / 63));
  for (let j = 0; j < 8; j++) {
    let sc: number, m: number;
    const p = yo + 4;
    if (j < 4) { sc = y[p + j]! & 63; m = y[p + j + 4]! & 63; }
    else { sc = (y[p + j + 4]! & 15) | ((y[p + j - 4]! >> 6) << 4); m = (y[p + j + 4]! >> 4) | ((y[p + j]! >> 6) << 4); }
    const dl = fr(d * sc);
    if (!dl) continue;
    const dm = fr(dmin * m);
    for (let i = 0; i < 32; i++) L[32 * j + i] = clamp(nearestInt(fr(fr(x[xo + 32 * j + i]! + dm) / dl)), 0, nmax);
  }
}

/** Q4_K: 8 sub-blocks of 32, 4-bit codes, 6-bit scales and mins. */
export function quantizeQ4_K(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(256);
  for (let b = 0; b < blocks; b++, xo += 256, yo += 144) {
    y.fill(0, yo, yo + 144);
    quantizeK45(x, xo, y, yo, 15, -1, 20, L);
    for (let j = 0; j < 4; j++) {
      for (let l = 0; l < 32; l++) y[yo + 16 + 32 * j + l] = L[64 * j + l]! | (L[64 * j + l + 32]! << 4);
    }
  }
}

/** Q5_K: as Q4_K with 5-bit codes (5th bits in qh). */
export function quantizeQ5_K(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(256);
  for (let b = 0; b < blocks; b++, xo += 256, yo += 176) {
    y.fill(0, yo, yo + 176);
    quantizeK45(x, xo, y, yo, 31, -0.5, 15, L);
    const qh = yo + 16, ql = yo + 48;
    for (let n = 0, m1 = 1, m2 = 2; n < 4; n++, m1 <<= 2, m2 <<= 2) {
      for (let j = 0; j < 32; j++) {
        let l1 = L[64 * n + j]!, l2 = L[64 * n + j + 32]!;
        if (l1 > 15) { l1 -= 16; y[qh + j] |= m1; }
        if (l2 > 15) { l2 -= 16; y[qh + j] |= m2; }
        y[ql + 32 * n + j] = l1 | (l2 << 4);
      }
    }
  }
}

/** Q6_K: 16 sub-blocks of 16, 6-bit codes, int8 scales. */
export function quantizeQ6_K(x: Float32Array, xo: number, y: Uint8Array, yo: number, blocks: number): void {
  const L = new Uint8Array(256), scales = new Float32Array(16);
  for (let b = 0; b < blocks; b++, xo += 256, yo += 210) {
    y.fill(0, yo, yo + 210);
    let maxScale = 0, maxAbsScale = 0;
    for (let ib = 0; ib < 16; ib++) {
      const scale = makeQxQuants(16, 32, x, xo + 16 * ib, L, 16 * ib);
      scales[ib] = scale;
      if (Math.abs(scale) > maxAbsScale) { maxAbsScale = Math.abs(scale); maxScale = scale; }
    }
    if (maxAbsScale < GROUP_MAX_EPS) {
      putF16(y, yo + 208, 0);
      continue;
    }
    const iscale = fr(-128 / maxScale);
    const d = putF16(y, yo + 208, fr(1 / iscale));
    for (let ib = 0; ib < 16; ib++) y[yo + 192 + ib] = Math.min(127, nearestInt(fr(iscale * scales[ib]!))) & 0xff;
    for (let j = 0; j < 16; j++) {
      const dl = fr(d * ((y[yo + 192 + j]! << 24) >> 24));
      if (!dl) continue;
      for (let i = 0; i < 16; i++) L[16 * j + i] = clamp(nearestInt(fr(x[xo + 16 * j + i]! / dl)), -32, 31) + 32;
    }
    for (let n = 0; n < 2; n++) {
      const j = 128 * n, ql = yo + 64 * n, qh = yo + 128 + 32 * n;
      for (let l = 0; l < 32; l++) {
        const a = L[j + l]!, b2 = L[j + l + 32]!, c = L[j + l + 64]!, e = L[j + l + 96]!;
        y[ql + l] = (a & 15) | ((c & 15) << 4);
        y[ql + l + 32] = (b2 & 15) | ((e & 15) << 4);
        y[qh + l] = (a >> 4) | ((b2 >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  }
}
