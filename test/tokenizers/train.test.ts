/**
 * trainBPE against a naive trainer that recounts every pair from scratch each round (no
 * incremental bookkeeping), plus round trips, saving, and Hugging Face loading the result.
 */
import { Tokenizer as HFTokenizer } from '@anush008/tokenizers';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ByteLevelBPE, loadTokenizer, preTokenizerFor, saveTokenizerJSON, SentencePieceBPE, toTokenizerJSON, trainBPE, TokenizerError } from '../../ts/tokenizers/index.js';
import { byteLevelAlphabet } from '../../ts/tokenizers/unicode.js';

const tmp = mkdtempSync(join(tmpdir(), 'tl-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A small deterministic corpus with repeats, punctuation, digits and non-ASCII. */
function corpus(n: number): string[] {
  const words = ['the', 'cat', 'sat', 'on', 'mat', 'thesis', 'other', 'kitten', 'naïve', 'café', '東京', '42', 'x=y+1;', 'don\'t', '🦙'];
  let seed = 99;
  const out: string[] = [];
  for (let d = 0; d < n; d++) {
    let s = '';
    for (let i = 0; i < 40; i++) s += (i ? ' ' : '') + words[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % words.length];
    out.push(s);
  }
  return out;
}

/** Naive byte-level trainer: full recount per round; ties → smallest (left id, right id). */
function naiveMerges(texts: string[], vocabSize: number, specials: string[]): Array<[string, string]> {
  const { byteToChar } = byteLevelAlphabet();
  const tokens = [...specials, ...byteToChar];
  const ids = new Map(tokens.map((t, i) => [t, i]));
  const counts = new Map<string, number>();
  const pre = preTokenizerFor('gpt-2');
  for (const t of texts) pre.split(t, (w) => counts.set(w, (counts.get(w) ?? 0) + 1));
  let words = [...counts].map(([w, c]) => ({ sym: Array.from(new TextEncoder().encode(w), (b) => ids.get(byteToChar[b]!)!), c }));
  const merges: Array<[string, string]> = [];
  while (tokens.length < vocabSize) {
    const pc = new Map<string, number>();
    for (const { sym, c } of words) for (let i = 0; i + 1 < sym.length; i++) pc.set(`${sym[i]},${sym[i + 1]}`, (pc.get(`${sym[i]},${sym[i + 1]}`) ?? 0) + c);
    let best: [number, number] | null = null;
    let bestC = 1; // minFrequency 2
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestC || (c === bestC && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestC = c;
      }
    }
    if (!best) break;
    const [a, b] = best;
    const s = tokens[a]! + tokens[b]!;
    let id = ids.get(s);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(s);
      ids.set(s, id);
    }
    merges.push([tokens[a]!, tokens[b]!]);
    words = words.map(({ sym, c }) => {
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(id!);
          i++;
        } else next.push(sym[i]!);
      }
      return { sym: next, c };
    });
  }
  return merges;
}

describe('trainBPE', () => {
  const texts = corpus(60);

  it('byte-level: same merges as a naive full-recount trainer, deterministically', () => {
    const a = trainBPE(texts, { vocabSize: 256 + 1 + 120, specialTokens: ['<|endoftext|>'] });
    const b = trainBPE(texts, { vocabSize: 256 + 1 + 120, specialTokens: ['<|endoftext|>'] });
    expect(a.merges).toEqual(b.merges);
    expect(a.merges).toEqual(naiveMerges(texts, 256 + 1 + 120, ['<|endoftext|>']));
    expect(a.tokenizer.vocabSize).toBeLessThanOrEqual(377);
    expect(a.tokenizer.specialIds.eos).toBe(0);
  });

  it('byte-level: loads into ByteLevelBPE, round-trips any text, compresses its training text', () => {
    const { tokenizer } = trainBPE(texts, { vocabSize: 400 });
    expect(tokenizer.model).toBeInstanceOf(ByteLevelBPE);
    for (const t of [texts[0]!, 'unseen words: zebra 🐙 \u0000 \uFEFF', '']) expect(tokenizer.decode(tokenizer.encode(t))).toBe(t);
    expect(tokenizer.encode(texts[0]!).length).toBeLessThan(new TextEncoder().encode(texts[0]!).length / 2);
  });

  it('byte-level: saves as tokenizer.json that we and Hugging Face tokenizers read to the same ids', async () => {
    const { tokenizer } = trainBPE(texts, { vocabSize: 400, specialTokens: ['<|endoftext|>'] });
    const path = join(tmp, 'trained.json');
    saveTokenizerJSON(tokenizer, path);
    const back = loadTokenizer(path);
    const hf = HFTokenizer.fromString(JSON.stringify(toTokenizerJSON(tokenizer)));
    for (const t of [...texts.slice(0, 5), "zebra's 🐙 café\t\n"]) {
      const ids = Array.from(tokenizer.encode(t));
      expect(Array.from(back.encode(t))).toEqual(ids);
      expect((await hf.encode(t, null, { addSpecialTokens: false })).getIds()).toEqual(ids);
    }
  });

  it('SentencePiece-style: loads into SentencePieceBPE with byte fallback and round-trips', () => {
    const { tokenizer, merges } = trainBPE(texts, { vocabSize: 600, byteLevel: false, specialTokens: ['<unk>', '<s>', '</s>'] });
    expect(tokenizer.model).toBeInstanceOf(SentencePieceBPE);
    expect(merges.length).toBeGreaterThan(30); // 15 distinct words: merging stops when each is one token
    expect(tokenizer.encode('cat sat', { addSpecialTokens: false }).length).toBe(2);
    expect(tokenizer.specialIds).toMatchObject({ unk: 0, bos: 1, eos: 2 });
    for (const t of [texts[1]!, 'unseen ✈ chars', ' two  spaces ']) {
      const ids = tokenizer.encode(t);
      expect(ids[0]).toBe(1);
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(t);
    }
  });

  it('rejects a vocabulary smaller than the alphabet and bad sizes', () => {
    expect(() => trainBPE(texts, { vocabSize: 100 })).toThrow(TokenizerError);
    expect(() => trainBPE(texts, { vocabSize: 0 })).toThrow(RangeError);
    expect(() => trainBPE(texts, { vocabSize: 300, specialTokens: ['a', 'a'] })).toThrow(/duplicates/);
  });
});
