/**
 * The fast paths against their plain references: the GPT-2 scanner against V8's regex engine
 * running the same pattern, and SentencePiece merging on ids against merging on strings.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GPT2, preTokenizerFor, preTokenizerNames, RegexPreTokenizer } from '../../ts/tokenizers/pretokenizers.js';
import { loadTokenizer, SentencePieceBPE } from '../../ts/tokenizers/index.js';
import { toWellFormed } from '../../ts/tokenizers/unicode.js';
import { llama2TokenizerBin, readVectors, vocabDir, vocabPath } from './helpers.js';

/** Random strings over an alphabet that hits every branch: contractions, classes, white space kinds, astral. */
function randomTexts(count: number, seed: number): string[] {
  const alphabet = Array.from("aZ'sStTrReEvVmMlLdD09 ½١   \t\n\r\u000B\u0085\u00A0\u2028\u3000\uFEFF\u200D.,!?-'\"()é漢🦙𝔘𝟙\uD800");
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    let s = '';
    const len = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 60;
    for (let i = 0; i < len; i++) s += alphabet[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % alphabet.length];
    out.push(s);
  }
  return out;
}

function pieces(pre: RegexPreTokenizer, text: string): string[] {
  const out: string[] = [];
  pre.split(text, (p) => out.push(p));
  return out;
}

describe('pre-tokenizers', () => {
  const scanner = new RegexPreTokenizer('scanner', [GPT2]);
  const regex = new RegexPreTokenizer('regex', [GPT2], false);

  it('the GPT-2 scanner splits exactly like the regex (random text)', () => {
    for (const t of randomTexts(3000, 42)) expect(pieces(scanner, t), JSON.stringify(t)).toEqual(pieces(regex, t));
  });

  it.skipIf(!existsSync(vocabDir))('the GPT-2 scanner splits exactly like the regex (llama.cpp inputs)', () => {
    for (const { input } of readVectors('gpt-2')) expect(pieces(scanner, input)).toEqual(pieces(regex, input));
  });

  it('pieces always concatenate back to the input, for every named pre-tokenizer', () => {
    const texts = randomTexts(200, 7);
    for (const name of preTokenizerNames()) {
      const pre = preTokenizerFor(name);
      for (const t of texts) {
        const ps = pieces(pre, t);
        expect(ps.join(''), `${name} ${JSON.stringify(t)}`).toBe(t);
        expect(ps.every((p) => p.length > 0)).toBe(true);
      }
    }
  });

  it('uses Unicode White_Space, not JavaScript \\s', () => {
    // U+FEFF is "other" (joins the punctuation run), U+0085 is white space
    expect(pieces(scanner, 'a \uFEFF!')).toEqual(['a', ' \uFEFF!']);
    expect(pieces(regex, 'a \uFEFF!')).toEqual(['a', ' \uFEFF!']);
    expect(pieces(scanner, 'a\u0085\u0085b')).toEqual(['a', '\u0085', '\u0085', 'b']);
    expect(pieces(regex, 'a\u0085\u0085b')).toEqual(['a', '\u0085', '\u0085', 'b']);
  });

  it('rejects unknown names', () => {
    expect(() => preTokenizerFor('nope')).toThrow(/unknown BPE pre-tokenizer 'nope'/);
  });
});

describe.skipIf(!existsSync(vocabDir))('SentencePiece merging on ids equals merging on strings', () => {
  const cases = [vocabPath('llama-spm'), vocabPath('phi-3'), llama2TokenizerBin].filter((p) => existsSync(p));
  it.each(cases)('%s', (path) => {
    const tok = loadTokenizer(path);
    const model = tok.model as SentencePieceBPE;
    expect(model.mergesByIds).toBe(true);
    const space = model.dialect === 'llama2c' ? ' ' : '\u2581';
    for (const t of [...randomTexts(1500, 3), ...readVectors('llama-spm').map((v) => v.input)]) {
      const seg = toWellFormed(t).replaceAll(' ', space); // as encode() hands it over: no lone surrogates
      expect(Array.from(model.mergeSegmentByIds(seg)), JSON.stringify(t)).toEqual(Array.from(model.mergeSegment(seg)));
    }
  });
});
