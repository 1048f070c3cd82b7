/**
 * Conversions: f32↔f16, f32↔bf16, Q8_0 quantize/dequantize.
 * - Checked against known IEEE 754 binary16 / bfloat16 encodings (textbook values, not our output)
 *   and against a rounding property (the result is the nearest representable value, ties to even).
 * - Native (every ISA path) and the JS baseline must agree bit for bit: tolerance 0 for every
 *   conversion, including NaN, infinities, subnormals and the Q8_0 blocks.
 * - Q8_0 follows ggml's reference quantizer: d = amax/127, q = roundf(x/d) (half away from zero).
 *   Round trip: |x − dequant(quant(x))| ≤ 0.5·d + 127·|d − f16(d)| ≤ 0.57·amax/127 per block.
 * - Oracle: llama.cpp's own converter wrote stories260K as f32, f16 and q8_0 GGUF from the same
 *   weights; converting the f32 tensors must reproduce its F16 and Q8_0 tensors byte for byte.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readGGUF, type GGUFFile } from '../../ts/formats/gguf.js';
import { getBackend } from '../../ts/index.js';
import type { Backend } from '../../ts/index.js';
import { isaPaths, randomF32, rng, withIsa } from './helpers.js';

const native = getBackend('native');
const js = getBackend('js');

const f32OfBits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;
const bitsOfF32 = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

// Known binary16 encodings (IEEE 754-2008 §3.6; e.g. the table in Wikipedia's "Half-precision").
const F16_KNOWN: [number, number][] = [
  [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.5, 0x3800], [65504, 0x7bff],
  [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -14 - 2 ** -24, 0x03ff], [1 / 3, 0x3555], [0.1, 0x2e66],
  [Infinity, 0x7c00], [-Infinity, 0xfc00], [Math.PI, 0x4248],
  // rounding: 65520 is halfway between 65504 and 2^16 → overflows to inf; just below stays finite
  [65520, 0x7c00], [65519.99609375, 0x7bff],
  // ties to even: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01 → 0x3c00; 1 + 3·2^-11 → 0x3c02
  [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
  // subnormal ties: 2^-25 is halfway between 0 and 2^-24 → 0; 1.5·2^-24 → 2·2^-24 (even)
  [2 ** -25, 0x0000], [2 ** -25 + 2 ** -40, 0x0001], [1.5 * 2 ** -24, 0x0002], [1e-10, 0x0000],
];

// Known bfloat16 encodings: the top half of the f32 bits, rounded to nearest even.
const BF16_KNOWN: [number, number][] = [
  [1, 0x3f80], [-2, 0xc000], [Math.PI, 0x4049], [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82],
  [f32OfBits(0x7f7fffff), 0x7f80], [Infinity, 0x7f80], [-Infinity, 0xff80], [0, 0], [-0, 0x8000],
  [f32OfBits(0x00000001), 0x0000], [f32OfBits(0x00018000), 0x0002],
];

/** f32 bit patterns that stress every branch: specials, subnormals, halfway points, random bits. */
function stressBits(n: number): Uint32Array {
  const rand = rng(42);
  const out = new Uint32Array(n);
  const specials = [0, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff, 1, 0x807fffff,
    0x477fefff, 0x477ff000, 0x477fe000, 0x38800000, 0x387fffff, 0x33000000, 0x33000001, 0x32ffffff, 0x3f801000, 0x3f803000];
  out.set(specials);
  for (let i = specials.length; i < n; i++) {
    const r = (rand() * 2 ** 32) >>> 0;
    switch (i % 4) {
      case 0: out[i] = r; break; // any bits
      case 1: out[i] = (r & 0x807fffff) | ((102 + (i % 40)) << 23); break; // around the f16 range edges
      case 2: out[i] = (r & 0xffffe000) | 0x1000; break; // exactly halfway between two f16 values
      default: out[i] = (r & 0xffff0000) | 0x8000; // exactly halfway between two bf16 values
    }
  }
  return out;
}

const isNanF16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe.each([['native', native], ['js', js]] as [string, Backend][])('%s conversions: known IEEE values', (_name, b) => {
  it('f32 → f16 gives the textbook encodings, including rounding to even, subnormals and overflow', () => {
    const x = new Float32Array(F16_KNOWN.map(([v]) => v));
    const h = new Uint16Array(x.length);
    b.f32ToF16(h, x);
    F16_KNOWN.forEach(([v, want], i) => expect(h[i], `f16(${v})`).toBe(want));
  });

  it('f16 → f32 decodes the textbook encodings exactly', () => {
    const h = new Uint16Array(F16_KNOWN.map(([, bits]) => bits));
    const x = new Float32Array(h.length);
    b.f16ToF32(x, h);
    expect(x[2]).toBe(1);
    expect(x[5]).toBe(65504);
    expect(x[7]).toBe(2 ** -24);
    expect(x[8]).toBe(2 ** -14 - 2 ** -24);
    expect(x[9]).toBe(0.333251953125);
    expect(x[11]).toBe(Infinity);
    expect(Object.is(x[1], -0)).toBe(true);
    const nan = new Float32Array(1);
    b.f16ToF32(nan, new Uint16Array([0x7e00]));
    expect(Number.isNaN(nan[0])).toBe(true);
  });

  it('f32 → f16 keeps NaN a NaN', () => {
    const h = new Uint16Array(2);
    b.f32ToF16(h, new Float32Array([NaN, -NaN]));
    expect(isNanF16(h[0]!) && isNanF16(h[1]!)).toBe(true);
  });

  it('f32 ↔ bf16 gives the textbook encodings (round to nearest even, NaN kept quiet)', () => {
    const x = new Float32Array(BF16_KNOWN.map(([v]) => v));
    const h = new Uint16Array(x.length);
    b.f32ToBf16(h, x);
    BF16_KNOWN.forEach(([v, want], i) => expect(h[i], `bf16(${v})`).toBe(want));
    const back = new Float32Array(2);
    b.bf16ToF32(back, new Uint16Array([0x4049, 0x7fc0]));
    expect(back[0]).toBe(3.140625);
    expect(Number.isNaN(back[1])).toBe(true);
    const nan = new Uint16Array(1);
    b.f32ToBf16(nan, new Float32Array([f32OfBits(0x7f800001)])); // signalling NaN: must not become inf
    expect(nan[0]! & 0x7f80).toBe(0x7f80);
    expect(nan[0]! & 0x7f).not.toBe(0);
  });

  it('every f16 value survives f16 → f32 → f16 (NaNs stay NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(65536);
    const back = new Uint16Array(65536);
    b.f16ToF32(f, all);
    b.f32ToF16(back, f);
    for (let i = 0; i < 65536; i++) {
      if (isNanF16(i)) expect(isNanF16(back[i]!), `NaN ${i.toString(16)}`).toBe(true);
      else if (back[i] !== i) expect.fail(`f16 0x${i.toString(16)} came back as 0x${back[i]!.toString(16)}`);
    }
  });

  it('f32 → f16 picks the nearest f16 (ties to even) for random values — a property, not a table', () => {
    const rand = rng(3);
    const x = new Float32Array(20000);
    for (let i = 0; i < x.length; i++) x[i] = (rand() * 2 - 1) * 2 ** Math.floor(rand() * 44 - 28);
    const h = new Uint16Array(x.length);
    b.f32ToF16(h, x);
    const allF16 = new Float32Array(65536);
    js.f16ToF32(allF16, new Uint16Array(65536).map((_, i) => i));
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!, got = h[i]!;
      const mag = got & 0x7fff;
      if (mag === 0x7c00) { expect(Math.abs(v) >= 65520, `${v} overflowed`).toBe(true); continue; }
      const err = Math.abs(allF16[got]! - v);
      const neighbours = [mag - 1, mag + 1].filter((m) => m >= 0 && m < 0x7c00).map((m) => allF16[m | (got & 0x8000)]!);
      for (const n of neighbours) {
        const e = Math.abs(n - v);
        if (e < err || (e === err && (mag & 1) === 1)) expect.fail(`f16(${v}) = 0x${got.toString(16)}, but a nearer/even neighbour exists`);
      }
    }
  });
});

describe('Q8_0 follows ggml\'s reference quantizer', () => {
  // amax = 127 makes d = 1 exactly (f16 0x3c00) and q = roundf(x): ties go away from zero.
  const x = new Float32Array(32);
  x.set([127, 2.5, -2.5, 0.5, -0.5, 1.4999999, -126.5, 3.49, 0, 64]);
  const want = [127, 3, -3, 1, -1, 1, -127, 3, 0, 64];

  for (const [name, b] of [['native', native], ['js', js]] as [string, Backend][]) {
    it(`${name}: scale = amax/127 stored as f16, q = round half away from zero`, () => {
      const q = new Uint8Array(34);
      b.quantizeQ8_0(q, x);
      expect(q[0]! | (q[1]! << 8)).toBe(0x3c00);
      expect([...new Int8Array(q.buffer, 2, 10)]).toEqual(want);
      const zero = new Uint8Array(34).fill(7);
      b.quantizeQ8_0(zero, new Float32Array(32));
      expect([...zero]).toEqual(new Array(34).fill(0)); // all-zero block: d = 0, q = 0
    });

    it(`${name}: dequantize(quantize(x)) is within 0.57·amax/127 of x`, () => {
      const rand = rng(11);
      const n = 32 * 200;
      const v = randomF32(n, rand);
      for (let i = 0; i < n; i += 32 * 7) v[i] = 1000 * (rand() - 0.5); // a few outliers
      const q = new Uint8Array((n / 32) * 34);
      const back = new Float32Array(n);
      b.quantizeQ8_0(q, v);
      b.dequantizeQ8_0(back, q);
      for (let blk = 0; blk < n / 32; blk++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(v[blk * 32 + j]!));
        for (let j = 0; j < 32; j++) {
          const i = blk * 32 + j;
          if (!(Math.abs(back[i]! - v[i]!) <= (0.57 * amax) / 127)) expect.fail(`element ${i}: ${v[i]} came back as ${back[i]}`);
        }
      }
    });
  }
});

for (const { isa, runnable, why } of isaPaths()) {
  describe.skipIf(!runnable)(`native conversions on the ${isa} path equal the JS baseline bit for bit${why}`, () => {
    // Odd lengths exercise the SIMD tails.
    const bits = stressBits(100_003);
    const x = new Float32Array(bits.buffer);

    it('f32 → f16 and f16 → f32', () => {
      const want = new Uint16Array(x.length), got = new Uint16Array(x.length);
      js.f32ToF16(want, x);
      withIsa(isa, () => native.f32ToF16(got, x));
      expect(got).toEqual(want);
      const wantF = new Float32Array(want.length), gotF = new Float32Array(want.length);
      js.f16ToF32(wantF, want);
      withIsa(isa, () => native.f16ToF32(gotF, want));
      expect(bitsOfF32(gotF)).toEqual(bitsOfF32(wantF));
    });

    it('f32 → bf16 and bf16 → f32', () => {
      const want = new Uint16Array(x.length), got = new Uint16Array(x.length);
      js.f32ToBf16(want, x);
      withIsa(isa, () => native.f32ToBf16(got, x));
      expect(got).toEqual(want);
      const wantF = new Float32Array(want.length), gotF = new Float32Array(want.length);
      js.bf16ToF32(wantF, want);
      withIsa(isa, () => native.bf16ToF32(gotF, want));
      expect(bitsOfF32(gotF)).toEqual(bitsOfF32(wantF));
    });

    it('quantizeQ8_0 and dequantizeQ8_0 (random blocks, zeros, outliers, ties, NaN and ∞)', () => {
      const rand = rng(5);
      const n = 32 * 5000;
      const v = randomF32(n, rand, 3);
      for (let i = 0; i < n; i += 97) v[i] = (rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 20);
      v.fill(0, 64, 96); // an all-zero block
      for (let j = 0; j < 32; j++) v[96 + j] = 127 - j - 0.5; // amax 126.5: many near-ties
      v[200] = NaN;
      v[300] = Infinity;
      const want = new Uint8Array((n / 32) * 34), got = new Uint8Array((n / 32) * 34);
      js.quantizeQ8_0(want, v);
      withIsa(isa, () => native.quantizeQ8_0(got, v));
      expect(got).toEqual(want);
      const wantF = new Float32Array(n), gotF = new Float32Array(n);
      js.dequantizeQ8_0(wantF, want);
      withIsa(isa, () => native.dequantizeQ8_0(gotF, want));
      expect(bitsOfF32(gotF)).toEqual(bitsOfF32(wantF));
    });
  });
}

for (const b of [native, js]) {
  describe(`${b.name} conversions reject bad calls`, () => {
    it('wrong kinds → TypeError; wrong lengths → RangeError; overlap → RangeError', () => {
      expect(() => b.f32ToF16(new Int16Array(4) as unknown as Uint16Array, new Float32Array(4))).toThrow(/out must be a Uint16Array/);
      expect(() => b.f16ToF32(new Float32Array(4), new Float32Array(4) as unknown as Uint16Array)).toThrow(TypeError);
      expect(() => b.f32ToBf16(new Uint16Array(3), new Float32Array(4))).toThrow(/out has 3 elements, expected 4/);
      expect(() => b.quantizeQ8_0(new Uint8Array(34), new Float32Array(31))).toThrow(/multiple of 32/);
      expect(() => b.quantizeQ8_0(new Uint8Array(33), new Float32Array(32))).toThrow(/out has 33 elements, expected 34/);
      expect(() => b.dequantizeQ8_0(new Float32Array(32), new Uint8Array(35))).toThrow(/multiple of 34/);
      expect(() => b.dequantizeQ8_0(new Float32Array(31), new Uint8Array(34))).toThrow(RangeError);
      const buf = new ArrayBuffer(64);
      expect(() => b.f32ToF16(new Uint16Array(buf, 0, 8), new Float32Array(buf, 0, 8))).toThrow(/out must not overlap x/);
      expect(() => b.f32ToF16(null as unknown as Uint16Array, new Float32Array(1))).toThrow(TypeError);
    });

    it('detached buffers → TypeError', () => {
      const buf = new ArrayBuffer(16);
      const x = new Float32Array(buf);
      structuredClone(buf, { transfer: [buf] });
      expect(() => b.f32ToF16(new Uint16Array(4), x)).toThrow(TypeError);
    });
  });
}

// ── llama.cpp's converter as the oracle ─────────────────────────────────────────────────────
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(repoRoot, '..', 'shared');
const stories = join(shared, 'models', 'stories260K');
const ggufPaths = ['f32', 'f16', 'q8_0'].map((t) => join(stories, `stories260K-${t}.gguf`));
const haveGGUF = ggufPaths.every((p) => existsSync(p));

describe.skipIf(!haveGGUF)(`conversions reproduce llama.cpp's stories260K GGUF files byte for byte${haveGGUF ? '' : ` — skipped: ${stories} not found`}`, () => {
  const load = (p: string): { f: GGUFFile; bytes: Buffer } => ({ f: readGGUF(p), bytes: readFileSync(p) });
  const tensorBytes = (file: { f: GGUFFile; bytes: Buffer }, name: string, type: string): Uint8Array | null => {
    const t = file.f.tensors.find((x) => x.name === name);
    return t && t.type === type ? new Uint8Array(file.bytes.subarray(t.offset, t.offset + t.byteLength)) : null;
  };
  const paths = isaPaths().filter((p) => p.runnable).map((p) => p.isa);

  it('quantizeQ8_0 and f32ToF16 of every f32 tensor equal the converter\'s Q8_0 / F16 tensors (JS and each native path)', () => {
    const [f32, f16, q8] = ggufPaths.map(load) as [ReturnType<typeof load>, ReturnType<typeof load>, ReturnType<typeof load>];
    let q8Tensors = 0, f16Tensors = 0;
    for (const t of f32.f.tensors) {
      const raw = tensorBytes(f32, t.name, 'F32');
      if (!raw) continue;
      const x = new Float32Array(raw.slice().buffer);
      const wantQ = tensorBytes(q8, t.name, 'Q8_0');
      if (wantQ) {
        q8Tensors++;
        const out = new Uint8Array(wantQ.length);
        js.quantizeQ8_0(out, x);
        expect(out, `${t.name} (js)`).toEqual(wantQ);
        for (const isa of paths) {
          out.fill(0);
          withIsa(isa, () => native.quantizeQ8_0(out, x));
          expect(out, `${t.name} (native ${isa})`).toEqual(wantQ);
        }
      }
      const wantH = tensorBytes(f16, t.name, 'F16');
      if (wantH) {
        f16Tensors++;
        const want = new Uint16Array(wantH.slice().buffer);
        const out = new Uint16Array(x.length);
        js.f32ToF16(out, x);
        expect(out, `${t.name} (js)`).toEqual(want);
        for (const isa of paths) {
          out.fill(0);
          withIsa(isa, () => native.f32ToF16(out, x));
          expect(out, `${t.name} (native ${isa})`).toEqual(want);
        }
      }
    }
    expect(q8Tensors).toBeGreaterThan(10);
    expect(f16Tensors).toBeGreaterThan(10);
  });
});
