/**
 * Independent JS references for the quantized weight types (test-only): GGML block layouts decoded
 * element by element with f32 rounding emulated (Math.fround) in the order the native scalar
 * reference uses, the x86 activation quantizers (Q8_0 / Q8_1 / Q8_K) as ggml runs them, and random
 * well-formed blocks (random bits, finite f16 scales).
 */
import { halfToNumber, numberToHalf } from './variants.js';

const f = Math.fround;

/** GGML id → TS name, block size, block bytes, byte offsets of the f16 scale fields. */
export interface QuantSpec {
  name: string;
  id: number;
  block: number;
  bytes: number;
  /** f16 fields that are multiplicative scales (d) and mins (dmin / m). */
  scales: number[];
  mins: number[];
  act: 'q8_0' | 'q8_1' | 'q8_k';
}

export const QUANT_SPECS: QuantSpec[] = [
  { name: 'q4_0', id: 2, block: 32, bytes: 18, scales: [0], mins: [], act: 'q8_0' },
  { name: 'q4_1', id: 3, block: 32, bytes: 20, scales: [0], mins: [2], act: 'q8_1' },
  { name: 'q5_0', id: 6, block: 32, bytes: 22, scales: [0], mins: [], act: 'q8_0' },
  { name: 'q5_1', id: 7, block: 32, bytes: 24, scales: [0], mins: [2], act: 'q8_1' },
  { name: 'q8_0', id: 8, block: 32, bytes: 34, scales: [0], mins: [], act: 'q8_0' },
  { name: 'q2_k', id: 10, block: 256, bytes: 84, scales: [80], mins: [82], act: 'q8_k' },
  { name: 'q3_k', id: 11, block: 256, bytes: 110, scales: [108], mins: [], act: 'q8_k' },
  { name: 'q4_k', id: 12, block: 256, bytes: 144, scales: [0], mins: [2], act: 'q8_k' },
  { name: 'q5_k', id: 13, block: 256, bytes: 176, scales: [0], mins: [2], act: 'q8_k' },
  { name: 'q6_k', id: 14, block: 256, bytes: 210, scales: [208], mins: [], act: 'q8_k' },
  { name: 'iq4_nl', id: 20, block: 32, bytes: 18, scales: [0], mins: [], act: 'q8_0' },
  { name: 'iq4_xs', id: 23, block: 256, bytes: 136, scales: [0], mins: [], act: 'q8_k' },
];

const IQ4NL = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

/** Random blocks: random bits everywhere, then finite f16 scales of magnitude ≤ `scale`. */
export function randomBlocks(spec: QuantSpec, nBlocks: number, rand: () => number, scale: number): Uint8Array {
  const out = new Uint8Array(nBlocks * spec.bytes);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rand() * 256);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nBlocks; b++) {
    for (const o of spec.scales) dv.setUint16(b * spec.bytes + o, numberToHalf((rand() * 2 - 1) * scale), true);
    for (const o of spec.mins) dv.setUint16(b * spec.bytes + o, numberToHalf(rand() * scale), true);
  }
  return out;
}

const h16 = (x: Uint8Array, o: number) => halfToNumber(x[o]! | (x[o + 1]! << 8));

/** The 6-bit scale and min of group j of a Q4_K/Q5_K block (12 packed bytes at p). */
function k4(x: Uint8Array, p: number, j: number): [number, number] {
  if (j < 4) return [x[p + j]! & 63, x[p + j + 4]! & 63];
  return [(x[p + j + 4]! & 0xf) | ((x[p + j - 4]! >> 6) << 4), (x[p + j + 4]! >> 4) | ((x[p + j]! >> 6) << 4)];
}

/** Dequantizes one block at byte offset o into out[0..block). */
function dequantBlock(spec: QuantSpec, x: Uint8Array, o: number, out: Float32Array, at: number): void {
  switch (spec.name) {
    case 'q4_0': case 'q4_1': case 'iq4_nl': case 'q5_0': case 'q5_1': {
      const d = h16(x, o);
      const hasM = spec.name.endsWith('_1');
      const m = hasM ? h16(x, o + 2) : 0;
      const five = spec.name.startsWith('q5');
      const qh = five ? (x[o + (hasM ? 4 : 2)]! | (x[o + (hasM ? 5 : 3)]! << 8) | (x[o + (hasM ? 6 : 4)]! << 16) | (x[o + (hasM ? 7 : 5)]! << 24)) >>> 0 : 0;
      const qs = o + (hasM ? 4 : 2) + (five ? 4 : 0);
      for (let j = 0; j < 32; j++) {
        let q = j < 16 ? x[qs + j]! & 0xf : x[qs + j - 16]! >> 4;
        if (five) q |= ((qh >>> j) & 1) << 4;
        let v: number;
        if (spec.name === 'iq4_nl') v = f(d * IQ4NL[q]!);
        else if (hasM) v = f(f(q * d) + m);
        else v = f((q - (five ? 16 : 8)) * d);
        out[at + j] = v;
      }
      return;
    }
    case 'q8_0': {
      const d = h16(x, o);
      for (let j = 0; j < 32; j++) out[at + j] = f(((x[o + 2 + j]! << 24) >> 24) * d);
      return;
    }
    case 'q2_k': {
      const d = h16(x, o + 80), dmin = h16(x, o + 82);
      for (let e = 0; e < 256; e++) {
        const q = (x[o + 16 + Math.floor(e / 128) * 32 + (e % 32)]! >> (2 * Math.floor((e % 128) / 32))) & 3;
        const sc = x[o + Math.floor(e / 16)]!;
        out[at + e] = f(f(f(d * (sc & 0xf)) * q) - f(dmin * (sc >> 4)));
      }
      return;
    }
    case 'q3_k': {
      const d = h16(x, o + 108);
      const sp = o + 96;
      for (let e = 0; e < 256; e++) {
        const g = Math.floor(e / 16);
        const low = g < 8 ? x[sp + g]! & 0xf : x[sp + g - 8]! >> 4;
        const high = (x[sp + 8 + (g % 4)]! >> (2 * Math.floor(g / 4))) & 3;
        const sc = (low | (high << 4)) - 32;
        const q2 = (x[o + 32 + Math.floor(e / 128) * 32 + (e % 32)]! >> (2 * Math.floor((e % 128) / 32))) & 3;
        const hbit = (x[o + (e % 32)]! >> Math.floor(e / 32)) & 1;
        out[at + e] = f(f(d * sc) * (q2 - (hbit ? 0 : 4)));
      }
      return;
    }
    case 'q4_k': case 'q5_k': {
      const d = h16(x, o), dmin = h16(x, o + 2);
      const five = spec.name === 'q5_k';
      const qs = o + 16 + (five ? 32 : 0);
      for (let e = 0; e < 256; e++) {
        const byte = x[qs + Math.floor(e / 64) * 32 + (e % 32)]!;
        let q = e % 64 < 32 ? byte & 0xf : byte >> 4;
        if (five) q |= ((x[o + 16 + (e % 32)]! >> Math.floor(e / 32)) & 1) << 4;
        const [sc, m] = k4(x, o + 4, Math.floor(e / 32));
        out[at + e] = f(f(f(d * sc) * q) - f(dmin * m));
      }
      return;
    }
    case 'q6_k': {
      const d = h16(x, o + 208);
      for (let e = 0; e < 256; e++) {
        const h = Math.floor(e / 128), part = Math.floor((e % 128) / 32), l = e % 32;
        const lo = x[o + h * 64 + (part & 1) * 32 + l]!;
        const low = part < 2 ? lo & 0xf : lo >> 4;
        const high = (x[o + 128 + h * 32 + l]! >> (2 * part)) & 3;
        const sc = (x[o + 192 + Math.floor(e / 16)]! << 24) >> 24;
        out[at + e] = f(f(d * sc) * ((low | (high << 4)) - 32));
      }
      return;
    }
    case 'iq4_xs': {
      const d = h16(x, o);
      const sh = x[o + 2]! | (x[o + 3]! << 8);
      for (let ib = 0; ib < 8; ib++) {
        const ls = (((x[o + 4 + (ib >> 1)]! >> (4 * (ib & 1))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4)) - 32;
        const dl = f(d * ls);
        for (let j = 0; j < 32; j++) {
          const byte = x[o + 8 + 16 * ib + (j % 16)]!;
          out[at + 32 * ib + j] = f(dl * IQ4NL[j < 16 ? byte & 0xf : byte >> 4]!);
        }
      }
      return;
    }
  }
  throw new Error(`no reference for ${spec.name}`);
}

/** Dequantizes `rows` rows of `cols` values. */
export function dequantize(spec: QuantSpec, x: Uint8Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const nb = (rows * cols) / spec.block;
  for (let b = 0; b < nb; b++) dequantBlock(spec, x, b * spec.bytes, out, b * spec.block);
  return out;
}

/** Round half to even (the x86 quantizers' rounding). */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface QuantizedActs {
  bytes: Uint8Array;
  /** The values the integer dot products see: q · d. */
  values: Float32Array;
  /** Q8_1 only: per block, f16(d · Σq) as a number, and d(f16) · Σq, for the min term. */
  s?: Float64Array;
  dsum?: Float64Array;
}

/** ggml's x86 quantize_row_q8_0 / q8_1 (d = amax/127, q = roundEven(x·127/amax)) and quantize_row_q8_K. */
export function quantizeActs(kind: 'q8_0' | 'q8_1' | 'q8_k', x: Float32Array): QuantizedActs {
  const n = x.length;
  const values = new Float32Array(n);
  if (kind === 'q8_k') {
    const nb = n / 256;
    const bytes = new Uint8Array(nb * 292);
    const dv = new DataView(bytes.buffer);
    for (let b = 0; b < nb; b++) {
      let amax = 0, max = 0;
      for (let j = 0; j < 256; j++) {
        const ax = Math.abs(x[b * 256 + j]!);
        if (ax > amax) { amax = ax; max = x[b * 256 + j]!; }
      }
      if (amax === 0) continue;
      const iscale = f(-127 / max);
      const d = f(1 / iscale);
      dv.setFloat32(b * 292, d, true);
      for (let g = 0; g < 16; g++) {
        let s = 0;
        for (let l = 0; l < 16; l++) {
          const j = g * 16 + l;
          const q = Math.min(127, roundEven(f(iscale * x[b * 256 + j]!)));
          dv.setInt8(b * 292 + 4 + j, q);
          values[b * 256 + j] = q * d;
          s += q;
        }
        dv.setInt16(b * 292 + 260 + 2 * g, s, true);
      }
    }
    return { bytes, values };
  }
  const one = kind === 'q8_1';
  const bb = one ? 36 : 34;
  const nb = n / 32;
  const bytes = new Uint8Array(nb * bb);
  const dv = new DataView(bytes.buffer);
  const s = new Float64Array(nb), dsum = new Float64Array(nb);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = f(amax / 127);
    const id = amax !== 0 ? f(127 / amax) : 0;
    const dh = numberToHalf(d);
    dv.setUint16(b * bb, dh, true);
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = roundEven(f(x[b * 32 + j]! * id));
      dv.setInt8(b * bb + (one ? 4 : 2) + j, q);
      values[b * 32 + j] = q * halfToNumber(dh);
      sum += q;
    }
    if (one) {
      const sh = numberToHalf(f(d * sum));
      dv.setUint16(b * bb + 2, sh, true);
      s[b] = halfToNumber(sh);
      dsum[b] = halfToNumber(dh) * sum;
    }
  }
  return one ? { bytes, values, s, dsum } : { bytes, values };
}

/**
 * What the integer dot products compute, in f64: Σ_k w[n, k] · a_q[m, k] with w and a_q
 * dequantized; for Q4_1/Q5_1 the min term uses the block's stored f16 s (as ggml does) instead of
 * the exact Σ of the dequantized activations.
 */
export function referenceMatmul(spec: QuantSpec, w: Float32Array, acts: QuantizedActs[], mins: Float32Array | undefined,
  M: number, N: number, K: number): { want: Float64Array; bound: Float64Array } {
  const want = new Float64Array(M * N), bound = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    const a = acts[m]!.values;
    let sa = 0;
    for (let k = 0; k < K; k++) sa += Math.abs(a[k]!);
    for (let n = 0; n < N; n++) {
      let s = 0, wmax = 0;
      for (let k = 0; k < K; k++) {
        s += w[n * K + k]! * a[k]!;
        wmax = Math.max(wmax, Math.abs(w[n * K + k]!));
      }
      if (mins) {
        for (let b = 0; b < K / 32; b++) s += mins[n * (K / 32) + b]! * (acts[m]!.s![b]! - acts[m]!.dsum![b]!);
      }
      want[m * N + n] = s;
      bound[m * N + n] = sa * wmax * 4;
    }
  }
  return { want, bound };
}

/** Q4_1/Q5_1: the f16 min m of every block, as numbers. */
export function blockMins(spec: QuantSpec, x: Uint8Array, nBlocks: number): Float32Array {
  const out = new Float32Array(nBlocks);
  for (let b = 0; b < nBlocks; b++) out[b] = h16(x, b * spec.bytes + 2);
  return out;
}
