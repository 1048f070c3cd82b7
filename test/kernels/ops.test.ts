/**
 * Row and elementwise ops: every native ISA path (1 and 2 threads) against the JS baseline on
 * random inputs of awkward sizes, the activations against formulas written here with Math, and
 * bad calls.
 *
 * Tolerances (f32): add, mul, relu, embedding exact; norms, softmax, silu, swiglu 1e-6 absolute +
 * 1e-5 relative; gelu 1e-6 absolute + 1e-5 relative (vectorized exp/erfc of ≤ 5e-7 relative
 * error, see native/kernels/vmath_avx2.h).
 */
import { describe, expect, it } from 'vitest';
import type { Backend, Weights } from '../../ts/index.js';
import { expectClose, halfToNumber, js, native, numberToHalf, randomArray, rng, variants, withVariant } from './variants.js';

const SIZES = [1, 3, 17, 63, 65, 127, 1000];
const TOL = { abs: 1e-6, rel: 1e-5 };

/** erf from its Taylor series (|z| < 3) and continued fraction for erfc (|z| ≥ 3), in f64. */
function erf(z: number): number {
  const a = Math.abs(z);
  let r: number;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(-a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + 2/(a + …)))))
    let f = a;
    for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return z < 0 ? -r : r;
}
const geluErfMath = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
const geluTanhMath = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const siluMath = (x: number) => x / (1 + Math.exp(-x));

function both(fn: (b: Backend) => Float32Array, variant: Parameters<typeof withVariant>[0]): [Float32Array, Float32Array] {
  let a: Float32Array = new Float32Array();
  withVariant(variant, () => (a = fn(native)));
  return [a, fn(js)];
}

for (const variant of variants()) {
  describe.skipIf(variant.skip !== undefined)(`ops: native ${variant.title} vs the JS baseline`, () => {
    it.each(SIZES)('rmsnorm, dim %i', (dim) => {
      const rows = 3;
      const x = randomArray(rows * dim, dim, -3, 3);
      const w = randomArray(dim, dim + 1);
      const [a, b] = both((be) => {
        const o = new Float32Array(rows * dim);
        be.rmsnorm(o, x, w, rows, dim, 1e-5);
        return o;
      }, variant);
      expectClose(a, b, TOL.abs, TOL.rel, 'rmsnorm');
    });

    it.each(SIZES)('layernorm with and without bias, dim %i', (dim) => {
      const rows = 2;
      const x = randomArray(rows * dim, dim, 2, 6); // a large mean: the two-pass variance matters
      const w = randomArray(dim, dim + 1);
      const bias = randomArray(dim, dim + 2);
      for (const bb of [bias, null]) {
        const [a, b] = both((be) => {
          const o = new Float32Array(rows * dim);
          be.layernorm(o, x, w, bb, rows, dim, 1e-5);
          return o;
        }, variant);
        expectClose(a, b, 1e-5, TOL.rel, `layernorm bias=${bb !== null}`);
      }
    });

    it.each(SIZES)('softmax with temperature, cols %i', (cols) => {
      const rows = 3;
      const x = randomArray(rows * cols, cols, -20, 20);
      for (const temp of [1, 0.7, 3]) {
        const [a, b] = both((be) => {
          const o = new Float32Array(rows * cols);
          be.softmax(o, x, rows, cols, temp);
          return o;
        }, variant);
        expectClose(a, b, TOL.abs, TOL.rel, `softmax T=${temp}`);
      }
    });

    it.each(SIZES)('gelu (tanh, erf), silu, relu, swiglu, add, mul, n %i', (n) => {
      const x = randomArray(n, n, -8, 8);
      const y = randomArray(n, n + 1, -8, 8);
      const un = (f: (be: Backend, o: Float32Array) => void) =>
        both((be) => {
          const o = new Float32Array(n);
          f(be, o);
          return o;
        }, variant);
      let [a, b] = un((be, o) => be.gelu(o, x, 'tanh'));
      expectClose(a, b, TOL.abs, TOL.rel, 'gelu tanh');
      [a, b] = un((be, o) => be.gelu(o, x, 'erf'));
      expectClose(a, b, TOL.abs, TOL.rel, 'gelu erf');
      [a, b] = un((be, o) => be.silu(o, x));
      expectClose(a, b, TOL.abs, TOL.rel, 'silu');
      [a, b] = un((be, o) => be.relu(o, x));
      expect(a).toEqual(b);
      [a, b] = un((be, o) => be.swiglu(o, x, y));
      expectClose(a, b, TOL.abs, TOL.rel, 'swiglu');
      [a, b] = un((be, o) => be.add(o, x, y));
      expect(a).toEqual(b);
      [a, b] = un((be, o) => be.mul(o, x, y));
      expect(a).toEqual(b);
    });

    it('gelu and silu match the formulas written with Math (erf from its series), incl. tails', () => {
      const xs = Float32Array.from([
        ...Array.from({ length: 2001 }, (_, i) => -10 + i / 100),
        0, -0, 1e-30, -1e-30, 1e-8, -1e-8, 30, -30, 88, -88, -100, 100,
      ]);
      withVariant(variant, () => {
        const o = new Float32Array(xs.length);
        native.gelu(o, xs, 'tanh');
        expectClose(o, Array.from(xs, geluTanhMath), TOL.abs, TOL.rel, 'gelu tanh');
        native.gelu(o, xs, 'erf');
        expectClose(o, Array.from(xs, geluErfMath), TOL.abs, TOL.rel, 'gelu erf');
        native.gelu(o, xs); // default: tanh
        expectClose(o, Array.from(xs, geluTanhMath), TOL.abs, TOL.rel, 'gelu default');
        native.silu(o, xs);
        expectClose(o, Array.from(xs, siluMath), TOL.abs, TOL.rel, 'silu');
      });
    });

    it("relu is ggml's x > 0 ? x : 0 bit for bit: NaN, −0 and −Inf give +0, +Inf and subnormals stay", () => {
      const special = [NaN, -NaN, -0, 0, -Infinity, Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38, 0.5, -0.5];
      // 37 values: every lane position of the vector body and the scalar tail sees a special value
      const xs = Float32Array.from({ length: 37 }, (_, i) => special[(i * 5) % special.length]!);
      withVariant(variant, () => {
        const o = new Float32Array(xs.length).fill(7);
        native.relu(o, xs);
        const want = Float32Array.from(xs, (v) => (v > 0 ? v : 0));
        expect(new Uint32Array(o.buffer)).toEqual(new Uint32Array(want.buffer)); // +0, not −0 or NaN
      });
    });

    it('ops that may alias write the same result in place', () => {
      const n = 131;
      const x = randomArray(n, 9, -4, 4);
      const y = randomArray(n, 10, -4, 4);
      const w = randomArray(n, 11);
      withVariant(variant, () => {
        const check = (f: (o: Float32Array, x: Float32Array) => void) => {
          const sep = new Float32Array(n);
          f(sep, x.slice());
          const inPlace = x.slice();
          f(inPlace, inPlace);
          expect(inPlace).toEqual(sep);
        };
        check((o, a) => native.rmsnorm(o, a, w, 1, n, 1e-6));
        check((o, a) => native.layernorm(o, a, w, null, 1, n, 1e-6));
        check((o, a) => native.softmax(o, a, 1, n, 0.9));
        check((o, a) => native.gelu(o, a, 'erf'));
        check((o, a) => native.silu(o, a));
        check((o, a) => native.relu(o, a));
        check((o, a) => native.swiglu(o, a, y));
        check((o, a) => native.add(o, y, a));
        check((o, a) => native.mul(o, a, y));
      });
    });

    it('large inputs split over threads give the same result as the baseline', () => {
      const rows = 64;
      const dim = 4099;
      const x = randomArray(rows * dim, 12, -2, 2);
      const w = randomArray(dim, 13);
      const [a, b] = both((be) => {
        const o = new Float32Array(rows * dim);
        be.rmsnorm(o, x, w, rows, dim, 1e-5);
        be.silu(o, o);
        be.add(o, o, x);
        return o;
      }, variant);
      expectClose(a, b, 1e-5, TOL.rel, 'rmsnorm → silu → add');
    });

    it('embedding gathers f32, f16, bf16 and q8_0 rows exactly like the baseline and the format', () => {
      const rows = 50;
      const r = rng(21);
      const ids = Int32Array.from([0, 49, 7, 7, 23]);
      for (const cols of [1, 3, 17, 64, 96]) {
        const vals = randomArray(rows * cols, cols, -3, 3);
        const tables: Weights[] = [
          { dtype: 'f32', rows, cols, data: vals },
          { dtype: 'f16', rows, cols, data: Uint16Array.from(vals, (v) => numberToHalf(v)) },
          { dtype: 'bf16', rows, cols, data: Uint16Array.from(vals, (v) => new Uint16Array(Float32Array.of(v).buffer)[1]!) },
        ];
        if (cols % 32 === 0) {
          const data = new Uint8Array((rows * cols * 34) / 32);
          for (let i = 0; i < data.length; i++) data[i] = Math.floor(r(0, 256));
          for (let bl = 0; bl < (rows * cols) / 32; bl++) {
            const h = numberToHalf(r(-0.1, 0.1));
            data[bl * 34] = h & 0xff;
            data[bl * 34 + 1] = h >> 8;
          }
          tables.push({ dtype: 'q8_0', rows, cols, data });
        }
        for (const table of tables) {
          // Decoded straight from the format definition.
          const expected: number[] = [];
          for (const id of ids) {
            for (let c = 0; c < cols; c++) {
              const i = id * cols + c;
              if (table.dtype === 'f32') expected.push((table.data as Float32Array)[i]!);
              else if (table.dtype === 'f16') expected.push(halfToNumber((table.data as Uint16Array)[i]!));
              else if (table.dtype === 'bf16') expected.push(new Float32Array(Uint32Array.of((table.data as Uint16Array)[i]! << 16).buffer)[0]!);
              else {
                const d = table.data as Uint8Array;
                const at = Math.floor(i / 32) * 34;
                const scale = halfToNumber(d[at]! | (d[at + 1]! << 8));
                expected.push(Math.fround(scale * new Int8Array(d.buffer, at + 2 + (i % 32), 1)[0]!));
              }
            }
          }
          const [a, b] = both((be) => {
            const o = new Float32Array(ids.length * cols);
            be.embedding(o, table, ids);
            return o;
          }, variant);
          expect(Array.from(a), `${table.dtype} cols=${cols} native`).toEqual(expected);
          expect(Array.from(b), `${table.dtype} cols=${cols} js`).toEqual(expected);
        }
      }
      // A hand-made q8_0 block: scale 0.5 (f16 0x3800), values -3, 0, 127, -128, …
      const block = new Uint8Array(34);
      block[0] = 0x00;
      block[1] = 0x38;
      block.set([253, 0, 127, 128], 2);
      const o = new Float32Array(32);
      withVariant(variant, () => native.embedding(o, { dtype: 'q8_0', rows: 1, cols: 32, data: block }, Uint32Array.of(0)));
      expect(Array.from(o.subarray(0, 5))).toEqual([-1.5, 0, 63.5, -64, 0]);
    });

    it.each(SIZES)('argmax, n %i (first index on ties, NaN ignored)', (n) => {
      const x = randomArray(n, n + 5);
      withVariant(variant, () => {
        expect(native.argmax(x)).toBe(js.argmax(x));
        const ties = x.slice();
        const m = Math.max(...ties);
        ties[n - 1] = m; // a tie at the end: the first one still wins
        expect(native.argmax(ties)).toBe(js.argmax(ties));
        const withNaN = x.slice();
        withNaN[0] = NaN;
        expect(native.argmax(withNaN)).toBe(js.argmax(withNaN));
        expect(native.argmax(new Float32Array(n).fill(-Infinity))).toBe(0);
        expect(native.argmax(new Float32Array(n).fill(NaN))).toBe(0);
        const spike = new Float32Array(n).fill(-1);
        spike[n >> 1] = 5;
        expect(native.argmax(spike)).toBe(n >> 1);
      });
    });
  });
}

describe.each([
  ['native', native],
  ['js', js],
] as const)('ops (%s) reject bad calls with a named error', (_name, b) => {
  const f = (n: number) => new Float32Array(n);

  it('norms and softmax: kinds, lengths, dims, eps, temperature', () => {
    expect(() => b.rmsnorm(f(12), f(12), f(4), 3, 4, 1e-5)).not.toThrow();
    expect(() => b.rmsnorm(f(12), new Float64Array(12) as unknown as Float32Array, f(4), 3, 4, 1e-5)).toThrow(/x must be a Float32Array/);
    expect(() => b.rmsnorm(f(12), f(11), f(4), 3, 4, 1e-5)).toThrow(/x has 11 elements, expected 12 \(shape \[rows=3, dim=4\]\)/);
    expect(() => b.rmsnorm(f(12), f(12), f(5), 3, 4, 1e-5)).toThrow(/weight has 5 elements, expected 4/);
    expect(() => b.rmsnorm(f(12), f(12), f(4), 3, 4, -1)).toThrow(/eps/);
    expect(() => b.rmsnorm(f(12), f(12), f(4), -3, 4, 1e-5)).toThrow(/rows must be in/);
    expect(() => b.rmsnorm(f(12), f(12), f(4), 3, 4.5, 1e-5)).toThrow(/dim must be an integer/);
    expect(() => b.rmsnorm(f(12), f(12), f(4), 2 ** 41, 4, 1e-5)).toThrow(RangeError);
    expect(() => b.layernorm(f(12), f(12), f(4), f(3), 3, 4, 1e-5)).toThrow(/bias has 3 elements, expected 4/);
    expect(() => b.layernorm(f(12), f(12), f(4), [1, 2, 3, 4] as unknown as Float32Array, 3, 4, 1e-5)).toThrow(TypeError);
    expect(() => b.softmax(f(12), f(12), 3, 4, 0)).toThrow(/temperature must be a finite number > 0/);
    expect(() => b.softmax(f(12), f(12), 3, 4, NaN)).toThrow(/temperature/);
    expect(() => b.softmax(f(10), f(12), 3, 4)).toThrow(/out has 10 elements, expected 12 \(shape \[rows=3, cols=4\]\)/);
  });

  it('elementwise: kinds, lengths, gelu approximation', () => {
    expect(() => b.gelu(f(3), f(3), 'fast' as 'tanh')).toThrow(/approximation must be 'tanh' or 'erf', got 'fast'/);
    expect(() => b.gelu(f(2), f(3))).toThrow(/out has 2 elements, expected 3/);
    expect(() => b.silu(f(3), new Int32Array(3) as unknown as Float32Array)).toThrow(/x must be a Float32Array, got Int32Array/);
    expect(() => b.swiglu(f(3), f(3), f(4))).toThrow(/up has 4 elements, expected 3/);
    expect(() => b.add(f(3), f(3), null as unknown as Float32Array)).toThrow(/b must be a Float32Array/);
    expect(() => b.mul(f(4), f(3), f(3))).toThrow(/out has 4 elements/);
    expect(() => b.argmax(f(0))).toThrow(/x must have at least one element/);
  });

  it('embedding: dtype, table size, ids kind and range', () => {
    const t: Weights = { dtype: 'f32', rows: 4, cols: 3, data: f(12) };
    expect(() => b.embedding(f(6), t, Int32Array.of(0, 3))).not.toThrow();
    expect(() => b.embedding(f(6), t, Int32Array.of(0, 4))).toThrow(/ids\[1\] = 4 is out of range \[0, 4\)/);
    expect(() => b.embedding(f(6), t, Int32Array.of(-1, 0))).toThrow(/ids\[0\] = -1 is out of range/);
    expect(() => b.embedding(f(6), t, Float32Array.of(0, 1) as unknown as Int32Array)).toThrow(/ids must be an Int32Array or a Uint32Array/);
    expect(() => b.embedding(f(5), t, Int32Array.of(0, 1))).toThrow(/out has 5 elements, expected 6/);
    expect(() => b.embedding(f(3), { ...t, data: f(11) }, Int32Array.of(0))).toThrow(/table\.data( \(f32\))? has 11 elements, expected 12/);
    expect(() => b.embedding(f(3), { ...t, dtype: 'f16' }, Int32Array.of(0))).toThrow(/table\.data( \(f16\))? must be a Uint16Array/);
    expect(() => b.embedding(f(3), { ...t, dtype: 'q4' as 'f32' }, Int32Array.of(0))).toThrow(/table.dtype must be/);
    expect(() => b.embedding(f(3), { dtype: 'q8_0', rows: 1, cols: 3, data: new Uint8Array(34) }, Int32Array.of(0))).toThrow(/multiple of 32/);
    expect(() => b.embedding(f(32), { dtype: 'q8_0', rows: 1, cols: 32, data: new Uint8Array(33) }, Int32Array.of(0))).toThrow(/table\.data( \(q8_0\))? has 33 elements, expected 34/);
  });

  it('detached buffers → an error naming the argument, no crash', () => {
    const d = f(8);
    structuredClone(d.buffer, { transfer: [d.buffer] });
    expect(() => b.silu(f(8), d)).toThrow(/x has a detached ArrayBuffer/);
    expect(() => b.argmax(d)).toThrow(/x has a detached ArrayBuffer/);
  });
});
