/**
 * ConstrainedSampler (the grammar shortcuts of ./ts/generate/constrained-sample.ts) against the
 * plain reference "sample; if the grammar rejects it, mask every disallowed token and sample
 * again": the same token at every step for greedy, top-k, min-p and top-p sampling (top-p < 1
 * sorts the candidates, so the same seed draws the same token), with penalties too; and for plain
 * temperature sampling (rejection sampling) the same distribution, measured over many draws.
 */
import { describe, expect, it } from 'vitest';
import { ConstrainedSampler } from '../../ts/generate/constrained-sample.js';
import { Rng } from '../../ts/generate/rng.js';
import { resolveSampling, Sampler, type SamplingOptions } from '../../ts/generate/sampler.js';
import { compileGrammar } from '../../ts/grammar/compile.js';
import { jsonSchemaToGrammar } from '../../ts/grammar/json-schema.js';
import type { GrammarConstraint, TokenTable } from '../../ts/grammar/token-mask.js';

/** 95 printable ASCII characters, 200 random 2–4 character pieces of JSON-ish text, and EOS (id 0). */
function vocabulary(): TokenTable {
  const rng = new Rng(5);
  const alphabet = 'abcdefgh0123456789{}[]":, -';
  const pieces = ['', ...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i))];
  while (pieces.length < 296) {
    let s = '';
    const len = 2 + Math.floor(rng.next() * 3);
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rng.next() * alphabet.length)];
    pieces.push(s);
  }
  const bytes = pieces.map((p) => new TextEncoder().encode(p));
  const offsets = new Uint32Array(bytes.length + 1);
  bytes.forEach((b, i) => (offsets[i + 1] = offsets[i]! + b.length));
  const flat = new Uint8Array(offsets[bytes.length]!);
  bytes.forEach((b, i) => flat.set(b, offsets[i]!));
  const special = new Uint8Array(bytes.length);
  special[0] = 1;
  return { flat, offsets, special };
}

const table = vocabulary();
const V = table.offsets.length - 1;
const EOS = 0;
const grammar = compileGrammar(
  jsonSchemaToGrammar({ type: 'object', properties: { name: { type: 'string', maxLength: 12 }, n: { type: 'integer' }, tags: { type: 'array', items: { enum: ['a', 'bb'] }, maxItems: 3 } }, required: ['name', 'n'] }),
  table,
);
const argmax = (x: Float32Array): number => {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
};

/** The reference: the plain sample if allowed, else a full mask and a second sample. */
function referenceSample(sampler: Sampler, c: GrammarConstraint, logits: Float32Array, history: Int32Array, n: number): number {
  const saved = logits.slice();
  const first = sampler.sample(logits, history, n);
  if (c.allows(first)) return first;
  logits.set(saved);
  c.apply(logits);
  return sampler.sample(logits, history, n);
}

/** Random logits, with a bias that makes the unconstrained choice often invalid. */
function randomLogits(rng: Rng, scale: number): Float32Array {
  const l = new Float32Array(V);
  for (let i = 0; i < V; i++) l[i] = (rng.next() - 0.5) * scale;
  return l;
}

describe('ConstrainedSampler', () => {
  const modes: [string, SamplingOptions][] = [
    ['greedy', { temperature: 0 }],
    ['greedy with repetition and frequency penalties', { temperature: 0, repetitionPenalty: 1.5, frequencyPenalty: 0.5 }],
    ['top-k 5 (+ top-p 0.99)', { temperature: 0.9, topK: 5, topP: 0.99 }],
    ['top-k 40, min-p 0.05, top-p 0.95', { temperature: 0.8, topK: 40, minP: 0.05, topP: 0.95 }],
    ['min-p 0.1 (+ top-p 0.99)', { temperature: 1, minP: 0.1, topP: 0.99 }],
    ['top-p 0.9 only (full mask)', { temperature: 1, topP: 0.9 }],
  ];
  it.each(modes)('%s: the same tokens as masking first, step by step', (name, opts) => {
    let steps = 0;
    const used = { plain: 0, shortcut: 0, masked: 0 };
    for (let seed = 1; seed <= 12; seed++) {
      const ours = new Sampler(V, argmax);
      const ref = new Sampler(V, argmax);
      ours.reset(resolveSampling({ ...opts, seed }));
      ref.reset(resolveSampling({ ...opts, seed }));
      const cs = new ConstrainedSampler(ours, V);
      const a = grammar.start([EOS]);
      const b = grammar.start([EOS]);
      const history = new Int32Array(200);
      const logitRng = new Rng(seed * 7);
      let n = 0;
      for (let step = 0; step < 80; step++) {
        const logits = randomLogits(logitRng, seed % 2 ? 8 : 30);
        const x = cs.sample(a, resolveSampling({ ...opts, seed }), logits.slice(), history, n);
        const y = referenceSample(ref, b, logits.slice(), history, n);
        expect(x, `seed ${seed} step ${step}`).toBe(y);
        if (x === EOS || a.finished) break;
        a.accept(x);
        b.accept(y);
        history[n++] = x;
        steps++;
      }
      for (const k of ['plain', 'shortcut', 'masked'] as const) used[k] += cs.stats[k];
    }
    expect(steps).toBeGreaterThan(100); // the runs got well into the JSON
    // the shortcuts were taken (except where the settings need the full distribution)
    if (name.includes('full mask')) expect(used.shortcut).toBe(0);
    else expect(used.shortcut).toBeGreaterThan(name.startsWith('top-k 40') ? 0 : 20); // 40 allowed among 64 is rare in this small vocabulary
  });

  it('plain temperature sampling (rejection) draws the masked distribution', () => {
    const opts = resolveSampling({ temperature: 1, seed: 3 });
    const sampler = new Sampler(V, argmax);
    sampler.reset(opts);
    const cs = new ConstrainedSampler(sampler, V);
    // free text over part of the alphabet: many tokens allowed, but not all
    const c = compileGrammar('root ::= [a-h0-9 ]+', table).start([EOS]);
    const logits = randomLogits(new Rng(11), 4);
    const masked = logits.slice();
    c.apply(masked);
    let z = 0;
    for (let i = 0; i < V; i++) z += Number.isFinite(masked[i]!) ? Math.exp(masked[i]!) : 0;
    const allowedCount = masked.filter((v) => Number.isFinite(v)).length;
    expect(allowedCount).toBeGreaterThan(5);
    expect(allowedCount).toBeLessThan(V - 5);
    const draws = 20_000;
    const counts = new Float64Array(V);
    const history = new Int32Array(1);
    for (let k = 0; k < draws; k++) counts[cs.sample(c, opts, logits.slice(), history, 0)]!++;
    let worst = 0;
    for (let i = 0; i < V; i++) {
      const p = Number.isFinite(masked[i]!) ? Math.exp(masked[i]!) / z : 0;
      if (p === 0) expect(counts[i], `token ${i} is not allowed`).toBe(0);
      worst = Math.max(worst, Math.abs(counts[i]! / draws - p));
    }
    expect(worst).toBeLessThan(0.015);
  });
});
