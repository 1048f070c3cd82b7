/**
 * Sampler against independent references: a plain argmax, the analytic softmax of each
 * truncation rule (computed here directly from the definitions, with sorting), and the
 * penalty formulas written out by hand. Empirical frequencies are compared with a tolerance
 * several standard errors wide, with fixed seeds (so these tests are deterministic).
 */
import { describe, expect, it } from 'vitest';
import { resolveSampling, Sampler, type SamplingOptions } from '../../ts/generate/sampler.js';
import { Rng } from '../../ts/generate/rng.js';

const argmax = (x: Float32Array): number => {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
};

function sampler(V: number, o: SamplingOptions): Sampler {
  const s = new Sampler(V, argmax);
  s.reset(resolveSampling({ seed: 1234, ...o }));
  return s;
}

/** Reference distribution from the definitions: temperature → top-k → min-p → top-p. */
function reference(logits: number[], o: { temperature: number; topK?: number; topP?: number; minP?: number }): number[] {
  const V = logits.length;
  const order = [...logits.keys()].sort((a, b) => logits[b]! - logits[a]! || a - b);
  let keep = order.slice(0, o.topK && o.topK > 0 ? o.topK : V);
  const max = logits[order[0]!]!;
  const w = (i: number) => Math.exp((logits[i]! - max) / o.temperature);
  if (o.minP) keep = keep.filter((i) => w(i) >= o.minP!);
  if (o.topP !== undefined && o.topP < 1) {
    const total = keep.reduce((s, i) => s + w(i), 0);
    const out: number[] = [];
    let acc = 0;
    for (const i of keep) {
      out.push(i);
      acc += w(i);
      if (acc >= o.topP * total) break;
    }
    keep = out;
  }
  const p = new Array<number>(V).fill(0);
  const z = keep.reduce((s, i) => s + w(i), 0);
  for (const i of keep) p[i] = w(i) / z;
  return p;
}

function frequencies(s: Sampler, logits: number[], n: number): number[] {
  const f = new Array<number>(logits.length).fill(0);
  const buf = new Float32Array(logits.length);
  const hist = new Int32Array(0);
  for (let i = 0; i < n; i++) {
    buf.set(logits);
    f[s.sample(buf, hist, 0)]!++;
  }
  return f.map((c) => c / n);
}

const logits = [2.0, 1.5, 1.4, 0.3, -0.5, 0.0, -1.2, 1.0, 0.9, -3.0];

describe('Sampler', () => {
  it('temperature 0 is argmax (first maximum on ties)', () => {
    const s = sampler(5, { temperature: 0 });
    expect(s.sample(new Float32Array([0, 3, 1, 3, 2]), new Int32Array(0), 0)).toBe(1);
  });

  for (const o of [
    { temperature: 1 },
    { temperature: 0.7 },
    { temperature: 1.5, topK: 3 },
    { temperature: 1, topP: 0.8 },
    { temperature: 0.9, minP: 0.2 },
    { temperature: 1.2, topK: 6, minP: 0.05, topP: 0.9 },
  ]) {
    it(`draws from the reference distribution for ${JSON.stringify(o)}`, () => {
      const n = 40000;
      const f = frequencies(sampler(logits.length, o), logits, n);
      const p = reference(logits, o);
      for (let i = 0; i < logits.length; i++) {
        if (p[i] === 0) expect(f[i], `token ${i} must never be drawn`).toBe(0);
        else expect(Math.abs(f[i]! - p[i]!), `token ${i}: ${f[i]} vs ${p[i]}`).toBeLessThan(5 * Math.sqrt((p[i]! * (1 - p[i]!)) / n) + 1e-3);
      }
    });
  }

  it('top-p on a large vocabulary keeps exactly the reference nucleus', () => {
    const V = 5000;
    const rng = new Rng(7);
    const l = Array.from({ length: V }, () => rng.next() * 8);
    const p = reference(l, { temperature: 1, topP: 0.5 });
    const allowed = new Set(p.flatMap((x, i) => (x > 0 ? [i] : [])));
    const s = sampler(V, { temperature: 1, topP: 0.5 });
    const buf = new Float32Array(V);
    for (let i = 0; i < 3000; i++) {
      buf.set(l);
      expect(allowed.has(s.sample(buf, new Int32Array(0), 0))).toBe(true);
    }
  });

  it('top-p draws exactly what sorting the whole vocabulary gives (the candidates it skips sorting cannot be in the nucleus)', () => {
    // the old path, written out: all weights, one full sort (p desc, id asc), the prefix reaching p·sum, a serial draw
    const oldTopP = (l: Float32Array, T: number, topP: number, u: number): number => {
      let max = -Infinity;
      for (const x of l) max = Math.max(max, x);
      const prob = new Float32Array(l.length);
      let sum = 0;
      for (let i = 0; i < l.length; i++) {
        const w = Math.exp((l[i]! - max) * (1 / T));
        prob[i] = w;
        sum += w;
      }
      const order = [...prob.keys()].sort((a, b) => prob[b]! - prob[a]! || a - b);
      let acc = 0;
      let m = 0;
      while (m < order.length) {
        acc += prob[order[m]!]!;
        m++;
        if (acc >= topP * sum) break;
      }
      let r = u * acc;
      for (let j = 0; j < m; j++) {
        r -= prob[order[j]!]!;
        if (r < 0) return order[j]!;
      }
      return order[m - 1]!;
    };
    const V = 32000;
    for (const [T, topP, spread] of [[0.8, 0.95, 8], [1, 0.5, 3], [0.7, 0.99, 20], [1.3, 0.9, 1]] as const) {
      const s = sampler(V, { temperature: T, topP, seed: 99 });
      const u = new Rng(99);
      for (let step = 0; step < 8; step++) {
        const l = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 0.37 + step) * spread + Math.cos(i * 0.011) * 2);
        expect(s.sample(l.slice(), new Int32Array(0), 0), `T ${T}, top-p ${topP}, step ${step}`).toBe(oldTopP(l, T, topP, u.next()));
      }
    }
  });

  it('top-k keeps the lowest ids among tied logits', () => {
    const s = sampler(6, { temperature: 5, topK: 2 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(s.sample(new Float32Array([0, 1, 1, 1, 1, -2]), new Int32Array(0), 0));
    expect([...seen].sort()).toEqual([1, 2]);
  });

  it('same seed → same sequence; different seed → different sequence', () => {
    const run = (seed: number) => {
      const s = sampler(logits.length, { temperature: 1, seed });
      const buf = new Float32Array(logits.length);
      return Array.from({ length: 50 }, () => {
        buf.set(logits);
        return s.sample(buf, new Int32Array(0), 0);
      });
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it('applies repetition, presence and frequency penalties over the last N tokens as the formulas say', () => {
    const V = 6;
    const base = [1.0, -1.0, 2.0, 0.5, -0.25, 3.0];
    const history = new Int32Array([5, 0, 1, 0, 2, 0, 3]); // window of 4 → [0, 2, 0, 3]
    const o = { repetitionPenalty: 1.3, presencePenalty: 0.2, frequencyPenalty: 0.1, penaltyLastN: 4 };
    const expected = base.slice();
    const counts = new Map<number, number>([[0, 2], [2, 1], [3, 1]]);
    for (const [t, c] of counts) {
      let l = expected[t]!;
      l = l > 0 ? l / 1.3 : l * 1.3;
      expected[t] = l - c * 0.1 - 0.2;
    }
    // With temperature 0 the sampler returns argmax of the penalized logits; read them back too.
    const s = sampler(V, { temperature: 0, ...o });
    const buf = new Float32Array(base);
    const id = s.sample(buf, history, history.length);
    for (let i = 0; i < V; i++) expect(buf[i]).toBeCloseTo(expected[i]!, 5);
    expect(id).toBe(argmax(new Float32Array(expected)));
    // a second call gives the same result (the occurrence counts were reset)
    const buf2 = new Float32Array(base);
    s.sample(buf2, history, history.length);
    expect(Array.from(buf2)).toEqual(Array.from(buf));
  });

  it('rejects bad options with errors naming them', () => {
    expect(() => resolveSampling({ temperature: -1 })).toThrow(/temperature/);
    expect(() => resolveSampling({ topP: 0 })).toThrow(/topP/);
    expect(() => resolveSampling({ topK: 1.5 })).toThrow(/topK/);
    expect(() => resolveSampling({ minP: 2 })).toThrow(/minP/);
    expect(() => resolveSampling({ seed: Number.NaN })).toThrow(/seed/);
    expect(() => resolveSampling({ temperature: '1' as unknown as number })).toThrow(TypeError);
  });

  it('refuses logits that are all NaN or the wrong length', () => {
    const s = sampler(3, { temperature: 1 });
    expect(() => s.sample(new Float32Array([NaN, NaN, NaN]), new Int32Array(0), 0)).toThrow(/finite/);
    expect(() => s.sample(new Float32Array(4), new Int32Array(0), 0)).toThrow(/expected 3/);
  });
});

describe('Rng', () => {
  it('is uniform on [0, 1) (mean, variance, and 10 equal bins)', () => {
    const r = new Rng(99);
    const n = 100000;
    const bins = new Array<number>(10).fill(0);
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).toBe(true);
      sum += x;
      sq += x * x;
      bins[Math.floor(x * 10)]!++;
    }
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sq / n - (sum / n) ** 2).toBeCloseTo(1 / 12, 2);
    for (const b of bins) expect(Math.abs(b / n - 0.1)).toBeLessThan(0.005);
  });
});
