/**
 * Token-exact conformance with llama.cpp's tokenizer test vectors (generated with Hugging Face
 * tokenizers, add_special_tokens=False), decode round trips for the byte-level families, and the
 * llama2.c tokenizers against an independent, literal re-implementation of llama2.c's encode().
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../../ts/tokenizers/index.js';
import { llama2TokenizerBin, readVectors, tok512, VOCABS, vocabDir, vocabPath } from './helpers.js';

const passCounts: Record<string, string> = {};
afterAll(() => {
  if (Object.keys(passCounts).length) console.log('conformance pass counts:', passCounts);
});

describe.skipIf(!existsSync(vocabDir))(`llama.cpp vocab vectors (${vocabDir} absent → skipped)`, () => {
  for (const { name, family } of VOCABS) {
    describe(name, () => {
      const vectors = readVectors(name);
      let tok: Tokenizer;
      let passed = 0;
      it('loads from GGUF as the right family', () => {
        tok = loadTokenizer(vocabPath(name));
        expect(tok.family).toBe(family);
      });
      it.each(vectors.map((v, i) => ({ i, ...v })))(`case $i encodes to llama.cpp's ids`, ({ input, ids }) => {
        expect(Array.from(tok.encode(input, { addSpecialTokens: false }))).toEqual(ids);
        passed++;
        passCounts[name] = `${passed}/${vectors.length}`;
      });
      if (family === 'bpe') {
        it.each(vectors.map((v, i) => ({ i, ...v })))(`case $i round-trips through decode`, ({ input }) => {
          expect(tok.decode(tok.encode(input, { addSpecialTokens: false }))).toBe(input);
        });
      }
    });
  }
});

/**
 * llama2.c's encode() written out literally from its description, kept independent of the
 * implementation under test: look up each UTF-8 character (else its bytes as id byte+3), then
 * rescan all adjacent pairs and merge the one whose concatenated string is a token with the best
 * score (strictly greater: ties go left), until no pair merges. O(n²) — fine for tests.
 */
function llama2cReferenceEncode(tok: Tokenizer, text: string, bos: boolean): number[] {
  const index = new Map<string, number>();
  for (let i = 0; i < tok.vocabSize; i++) {
    const s = tok.idToToken(i)!;
    if (!index.has(s)) index.set(s, i);
  }
  const scores = tok.vocab.scores!;
  const out: number[] = [];
  if (bos) out.push(1);
  if (text.length > 0) out.push(index.get(' ')!);
  for (const ch of text) {
    const id = index.get(ch);
    if (id !== undefined) out.push(id);
    else for (const b of new TextEncoder().encode(ch)) out.push(b + 3);
  }
  for (;;) {
    let best = -1e10;
    let bestId = -1;
    let bestAt = -1;
    for (let i = bos ? 1 : 0; i + 1 < out.length; i++) {
      const id = index.get(tok.idToToken(out[i]!)! + tok.idToToken(out[i + 1]!)!);
      if (id !== undefined && scores[id]! > best) {
        best = scores[id]!;
        bestId = id;
        bestAt = i;
      }
    }
    if (bestAt < 0) break;
    out.splice(bestAt, 2, bestId);
  }
  return out;
}

const llama2cTexts = [
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park.',
  '',
  ' ',
  '   leading and trailing   ',
  'Tabs\tand\nnewlines\n\n',
  'Ünïcödé: naïve café — “quotes” 🦙🚀 中文字符 日本語 한국어',
  'x'.repeat(300),
  'the the the the the the the the the',
  '<s> not a control token </s>',
];

for (const [label, path] of [
  ['tok512.bin', tok512],
  ['llama2-tokenizer.bin', llama2TokenizerBin],
] as const) {
  describe.skipIf(!existsSync(path))(`llama2.c ${label} (${path} absent → skipped)`, () => {
    it.each(llama2cTexts.map((t, i) => ({ i, t })))('text $i encodes like llama2.c encode() with BOS', ({ t }) => {
      const tok = loadTokenizer(path);
      expect(Array.from(tok.encode(t))).toEqual(llama2cReferenceEncode(tok, t, true));
      expect(tok.decode(tok.encode(t), { skipSpecialTokens: true })).toBe(t);
    });
  });
}

describe.skipIf(!existsSync(llama2TokenizerBin) || !existsSync(vocabDir))('llama2.c tokenizer.bin vs the llama-spm GGUF', () => {
  it('gives llama.cpp’s ids for every llama-spm input (same 32000-token vocabulary)', () => {
    const bin = loadTokenizer(llama2TokenizerBin);
    const vectors = readVectors('llama-spm');
    const agree = vectors.filter(({ input, ids }) => JSON.stringify(Array.from(bin.encode(input, { addSpecialTokens: false }))) === JSON.stringify(ids));
    expect(agree.length).toBe(vectors.length);
  });
});
