/**
 * The native backend's matmulTMany keeps the checked projection list of its last call per `ws`
 * array (a layer passes the same arrays every token). A call whose outs or weights changed since
 * must not run on the kept list: each call is checked against separate matmulT calls.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend, Weights } from '../../ts/backend/types.js';
import { quantizeQ8_0 } from '../../ts/formats/dtype-convert.js';
import { Rng } from '../../ts/generate/rng.js';

const rng = new Rng(77);
const randn = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
const q8 = (rows: number, cols: number): Weights => ({ dtype: 'q8_0', rows, cols, data: quantizeQ8_0(randn(rows * cols)) });

let native: Backend | null = null;
try {
  native = getBackend('native');
} catch {
  native = null;
}

describe.skipIf(!native)('native matmulTMany reuses its checked projections only while nothing changed', () => {
  const b = native!;
  const K = 64;
  const separate = (a: Float32Array, ws: readonly Weights[]): Float32Array[] =>
    ws.map((w) => {
      const o = new Float32Array(w.rows);
      b.matmulT(o, a, w, 1);
      return o;
    });

  it('same arrays, new input: the outputs of separate matmulT calls', () => {
    const ws: Weights[] = [q8(32, K), q8(16, K)];
    const outs = [new Float32Array(32), new Float32Array(16)];
    for (let t = 0; t < 3; t++) {
      const a = randn(K);
      b.matmulTMany(outs, a, ws, 1);
      const want = separate(a, ws);
      expect(outs[0]).toEqual(want[0]);
      expect(outs[1]).toEqual(want[1]);
    }
  });

  it('an entry of ws or outs replaced in place, or a new outs array: written where asked, with the new weights', () => {
    const ws: Weights[] = [q8(32, K), q8(16, K)];
    const outs = [new Float32Array(32), new Float32Array(16)];
    const a = randn(K);
    b.matmulTMany(outs, a, ws, 1);
    ws[1] = q8(16, K); // another matrix of the same shape
    b.matmulTMany(outs, a, ws, 1);
    expect(outs[1]).toEqual(separate(a, ws)[1]);
    ws[0] = q8(8, K); // another shape: the old out no longer fits
    expect(() => b.matmulTMany(outs, a, ws, 1)).toThrow(/out/);
    const fresh = [new Float32Array(8), new Float32Array(16)];
    b.matmulTMany(fresh, a, ws, 1);
    const want = separate(a, ws);
    expect(fresh[0]).toEqual(want[0]);
    expect(fresh[1]).toEqual(want[1]);
    outs[0] = new Float32Array(8);
    b.matmulTMany(outs, a, ws, 1);
    expect(outs[0]).toEqual(want[0]);
    ws[1] = { ...ws[1]!, cols: K / 2, data: quantizeQ8_0(randn(16 * (K / 2))) }; // a mismatched K is still refused
    expect(() => b.matmulTMany(outs, a, ws, 1)).toThrow(/cols/);
  });
});
