/**
 * Behaviour of the shared Tokenizer surface: special tokens (and injection), BOS/CLS/SEP,
 * decoding, the streaming decoder, the Unicode traps JavaScript regexes fall into — checked
 * against tiktoken's GPT-2 encoding (Rust regex + BPE) as an independent reference.
 */
import { existsSync } from 'node:fs';
import { get_encoding } from 'tiktoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type Tokenizer } from '../../ts/tokenizers/index.js';
import { readVectors, tok512, VOCABS, vocabDir, vocabPath } from './helpers.js';

const have = existsSync(vocabDir);

/** Text that trips JavaScript regex libraries: \s ≠ Unicode White_Space, BOM, NEL, astral code points. */
const TRAPS = [
  'a \uFEFFb', // U+FEFF is not White_Space (JS \s says it is)
  'a\u0085b c', // U+0085 NEL is White_Space (JS \s says it is not)
  'x\u0085\u0085 y',
  '\uFEFFhello',
  '\uFEFF',
  'tab\t\tthen  two spaces   three\u00A0nbsp\u2028ls\u3000ideo',
  "I've they'll WE'RE o'clock ''' 'sup",
  '🦙🦙 👩‍👩‍👧 🏳️‍🌈 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀋 e\u0301',
  '12345678 3.14159 ١٢٣ ④ ½',
  'def f(x):\n    return x**2  # comment\n\n\n',
  'trailing spaces   ',
  '   ',
  '\r\n\r\n',
  'ǅungla ǈ ÅΩ ﬀ',
];

describe.skipIf(!have)(`GPT-2 vs tiktoken's gpt2 encoding (${vocabDir} absent → skipped)`, () => {
  let tok: Tokenizer;
  const enc = get_encoding('gpt2');
  beforeAll(() => {
    tok = loadTokenizer(vocabPath('gpt-2'));
  });
  afterAll(() => enc.free());

  it.each(TRAPS.map((t, i) => ({ i, t })))('trap $i gives tiktoken’s ids and round-trips', ({ t }) => {
    expect(Array.from(tok.encode(t))).toEqual(Array.from(enc.encode(t)));
    expect(tok.decode(tok.encode(t))).toBe(t);
  });

  it('agrees with tiktoken on pseudo-random mixed-script text', () => {
    const alphabet = Array.from("abc XYZ 019 .,;!?'\"\t\n\r  \u00A0\u0085\uFEFF\u200Dé漢字🦙ßÆ\u0301-_=+()[]{}<>/\\|");
    let seed = 12345;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let n = 0; n < 200; n++) {
      let s = '';
      const len = Math.floor(rand() * 40);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      expect(Array.from(tok.encode(s)), JSON.stringify(s)).toEqual(Array.from(enc.encode(s)));
    }
  });

  it('does not let text inject <|endoftext|> unless parseSpecial is set', () => {
    const text = 'hi<|endoftext|>there';
    const plain = Array.from(tok.encode(text));
    expect(plain).not.toContain(50256);
    // the literal is ordinary text: same ids as tiktoken with the special token disallowed-as-special
    expect(plain).toEqual(Array.from(enc.encode(text, [], [])));
    expect(tok.decode(plain)).toBe(text);
    const parsed = Array.from(tok.encode(text, { parseSpecial: true }));
    expect(parsed).toEqual(Array.from(enc.encode(text, 'all')));
    expect(parsed).toContain(50256);
    expect(tok.decode(parsed, { skipSpecialTokens: true })).toBe('hithere');
    expect(tok.decode(parsed)).toBe(text);
  });
});

describe.skipIf(!have)('special tokens by family', () => {
  it('llama-spm adds BOS by default, never for an explicit addSpecialTokens: false', () => {
    const tok = loadTokenizer(vocabPath('llama-spm'));
    const [first] = readVectors('llama-spm').filter((v) => v.input === 'Hello world');
    expect(Array.from(tok.encode('Hello world'))).toEqual([1, ...first!.ids]);
    expect(Array.from(tok.encode(''))).toEqual([1]);
    expect(Array.from(tok.encode('', { addSpecialTokens: false }))).toEqual([]);
    // "<s>" typed by a user is three ordinary tokens; with parseSpecial it is BOS
    expect(Array.from(tok.encode('<s>', { addSpecialTokens: false }))).not.toContain(1);
    const parsed = Array.from(tok.encode('<s>Hi', { addSpecialTokens: false, parseSpecial: true }));
    expect(parsed[0]).toBe(1);
    // after a special token SentencePiece adds its dummy prefix again, like at the start
    expect(parsed.slice(1)).toEqual(Array.from(tok.encode('Hi', { addSpecialTokens: false })));
  });

  it('bert-bge wraps in [CLS] … [SEP] and decodes to lower-cased words', () => {
    const tok = loadTokenizer(vocabPath('bert-bge'));
    const ids = Array.from(tok.encode('Hello, World!'));
    expect(ids[0]).toBe(tok.specialIds.cls);
    expect(ids[ids.length - 1]).toBe(tok.specialIds.sep);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('hello , world !');
    expect(tok.idToToken(tok.tokenToId('##ing')!)).toBe('##ing');
  });

  it('idToToken / tokenToId are inverse and bounded', () => {
    const tok = loadTokenizer(vocabPath('gpt-2'));
    expect(tok.vocabSize).toBe(50257);
    expect(tok.tokenToId(tok.idToToken(995)!)).toBe(995);
    expect(tok.idToToken(50257)).toBeUndefined();
    expect(tok.idToToken(-1)).toBeUndefined();
    expect(tok.idToToken(1.5)).toBeUndefined();
    expect(tok.tokenToId('no such token ☃☃☃')).toBeUndefined();
  });
});

describe.skipIf(!have)('decoding', () => {
  for (const { name } of VOCABS) {
    it(`${name}: streaming equals whole decode and never emits a broken character`, () => {
      const tok = loadTokenizer(vocabPath(name));
      for (const { input } of readVectors(name)) {
        const ids = tok.encode(input);
        const stream = tok.createStreamDecoder();
        let text = '';
        for (const id of ids) {
          const piece = stream.push(id);
          // a chunk never ends in the first half of a surrogate pair or holds U+FFFD from a split character
          expect(/[\uD800-\uDBFF]$/.test(piece)).toBe(false);
          text += piece;
        }
        text += stream.flush();
        expect(text).toBe(tok.decode(ids));
        expect(text.includes('\uFFFD')).toBe(input.includes('\uFFFD'));
      }
    });
  }

  it('holds back a multi-byte character split across byte tokens until it is complete', () => {
    const tok = loadTokenizer(vocabPath('gpt-2'));
    const ids = Array.from(tok.encode('🦙'));
    expect(ids.length).toBeGreaterThan(1);
    const stream = tok.createStreamDecoder();
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces.slice(0, -1).every((p) => p === '')).toBe(true);
    expect(pieces[pieces.length - 1]).toBe('🦙');
    expect(stream.flush()).toBe('');
    // an unfinished character at the end of the stream becomes U+FFFD on flush
    const cut = tok.createStreamDecoder();
    expect(cut.push(ids[0]!)).toBe('');
    expect(cut.flush()).toBe('\uFFFD');
  });

  it('keeps a leading BOM (TextDecoder drops it by default)', () => {
    const tok = loadTokenizer(vocabPath('gpt-2'));
    expect(tok.decode(tok.encode('\uFEFF'))).toBe('\uFEFF');
    const stream = tok.createStreamDecoder();
    let s = '';
    for (const id of tok.encode('\uFEFFx')) s += stream.push(id);
    expect(s + stream.flush()).toBe('\uFEFFx');
  });

  it('SentencePiece drops only the dummy-prefix space', () => {
    const tok = loadTokenizer(vocabPath('llama-spm'));
    for (const t of [' Hello', '  two', 'x', ' ', '']) {
      expect(tok.decode(tok.encode(t), { skipSpecialTokens: true })).toBe(t);
    }
  });
});

describe.skipIf(!existsSync(tok512))('llama2.c tok512.bin', () => {
  it('decodes llama2.c style: byte tokens to bytes, the space after BOS dropped', () => {
    const tok = loadTokenizer(tok512);
    expect(tok.vocabSize).toBe(512);
    const ids = tok.encode('Once upon a time 🦙');
    expect(ids[0]).toBe(1);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('Once upon a time 🦙');
  });
});
