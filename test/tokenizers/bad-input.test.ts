/**
 * Bad and extreme input: each case has a defined result or a clear error, and nothing hangs.
 */
import { existsSync } from 'node:fs';
import { get_encoding } from 'tiktoken';
import { describe, expect, it } from 'vitest';
import { readGGUF } from '../../ts/formats/gguf.js';
import { loadTokenizer, tokenizerFromGGUFMetadata, TokenizerError, Vocab } from '../../ts/tokenizers/index.js';
import { llama2TokenizerBin, VOCABS, vocabDir, vocabPath } from './helpers.js';

const have = existsSync(vocabDir);

describe.skipIf(!have)('invalid UTF-16 and empty input', () => {
  for (const { name } of VOCABS) {
    it(`${name}: a lone surrogate is encoded as U+FFFD, the empty string as nothing`, () => {
      const tok = loadTokenizer(vocabPath(name));
      for (const [bad, good] of [
        ['a\uD800b', 'a\uFFFDb'],
        ['x\uDFFF', 'x\uFFFD'],
        ['\uDBFF\uDBFF🦙', '\uFFFD\uFFFD🦙'],
      ] as const) {
        expect(Array.from(tok.encode(bad))).toEqual(Array.from(tok.encode(good)));
      }
      expect(Array.from(tok.encode('', { addSpecialTokens: false }))).toEqual([]);
      expect(tok.decode([])).toBe('');
      expect(tok.decode(new Uint32Array(0))).toBe('');
    });
  }
});

describe.skipIf(!have)('decode: ids out of range', () => {
  const tok = have ? loadTokenizer(vocabPath('gpt-2')) : undefined!;
  it.each([[[50257]], [[0, -1]], [[1.5]], [[Number.NaN]], [[Infinity]]])('%j is a RangeError naming the id and position', (ids) => {
    expect(() => tok.decode(ids)).toThrow(RangeError);
    expect(() => tok.decode(ids)).toThrow(/token id .* at position \d+ is not in \[0, 50257\)/);
    expect(() => tok.createStreamDecoder().push(ids[ids.length - 1]!)).toThrow(RangeError);
  });
  it('wrong argument kinds are TypeErrors', () => {
    expect(() => tok.decode(null as unknown as number[])).toThrow(TypeError);
    expect(() => tok.encode(42 as unknown as string)).toThrow(TypeError);
  });
});

describe.skipIf(!have)('long inputs take the O(n log n) path and stay exact', () => {
  it('GPT-2: a 3000-letter word matches tiktoken', () => {
    const tok = loadTokenizer(vocabPath('gpt-2'));
    let seed = 7;
    let word = '';
    for (let i = 0; i < 3000; i++) word += 'abcdefghijklmnopqrstuvwxyz'[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 26];
    const enc = get_encoding('gpt2');
    try {
      expect(Array.from(tok.encode(word))).toEqual(Array.from(enc.encode(word)));
      expect(Array.from(tok.encode('a'.repeat(2000)))).toEqual(Array.from(enc.encode('a'.repeat(2000))));
    } finally {
      enc.free();
    }
  });

  it('1 MB without spaces and a 1 MB run of one character finish and round-trip', () => {
    for (const name of ['gpt-2', 'llama-spm']) {
      const tok = loadTokenizer(vocabPath(name));
      for (const text of ['x'.repeat(1 << 20), Array.from({ length: 1 << 18 }, (_, i) => 'qwerty'[(i * 7919) % 6]).join('').repeat(4)]) {
        const ids = tok.encode(text, { addSpecialTokens: false });
        expect(ids.length).toBeLessThan(text.length);
        expect(tok.decode(ids)).toBe(text);
      }
    }
  });

  it.skipIf(!existsSync(llama2TokenizerBin))('llama2.c: a 2000-character run gives the same ids as the llama-spm GGUF', () => {
    const bin = loadTokenizer(llama2TokenizerBin);
    const gguf = loadTokenizer(vocabPath('llama-spm'));
    const text = 'ab'.repeat(500) + 'x'.repeat(1000);
    expect(Array.from(bin.encode(text))).toEqual(Array.from(gguf.encode(text)));
  });
});

describe('inconsistent vocabularies', () => {
  it('Vocab rejects empty lists, length mismatches and unknown token types', () => {
    expect(() => new Vocab([])).toThrow(/empty/);
    expect(() => new Vocab(['a', 'b'], [1])).toThrow(/2 tokens but 1 token types/);
    expect(() => new Vocab(['a', 'b'], undefined, [0])).toThrow(/2 tokens but 1 scores/);
    expect(() => new Vocab(['a'], [9])).toThrow(/invalid token type 9/);
  });

  it('duplicate token strings resolve to the lowest id', () => {
    const v = new Vocab(['a', 'b', 'a']);
    expect(v.id('a')).toBe(0);
    expect(v.size).toBe(3);
    // lookups of absent tokens, and of non-strings from JavaScript callers: undefined, never a throw
    expect(v.id('c')).toBeUndefined();
    expect(v.id('')).toBeUndefined();
    expect(v.id(undefined as unknown as string)).toBeUndefined();
    expect(v.id(7 as unknown as string)).toBeUndefined();
    // 5000 distinct tokens (7919 is prime to 5000): every one found again at its own id
    const many = Array.from({ length: 5000 }, (_, i) => `t${(i * 7919) % 5000}·${i % 3}`);
    const big = new Vocab(many);
    expect(many.every((t, i) => big.id(t) === i)).toBe(true);
    expect(big.id('t5000·0')).toBeUndefined();
  });

  it.skipIf(!have)('GGUF metadata with out-of-range ids or mismatched arrays gets a clear error', () => {
    const meta = readGGUF(vocabPath('llama-spm')).metadata;
    const edit = (k: string, v: unknown) => new Map<string, unknown>([...meta, [k, v]]);
    expect(() => tokenizerFromGGUFMetadata(edit('tokenizer.ggml.bos_token_id', 99999))).toThrow(/bos token id 99999 is out of range/);
    expect(() => tokenizerFromGGUFMetadata(edit('tokenizer.ggml.scores', new Float32Array(5)))).toThrow(/32000 tokens but 5 scores/);
    expect(() => tokenizerFromGGUFMetadata(edit('tokenizer.ggml.model', 'rwkv'))).toThrow(/'rwkv' is not supported/);
    expect(() => tokenizerFromGGUFMetadata(edit('tokenizer.ggml.tokens', 'oops'))).toThrow(TokenizerError);
    const bpe = readGGUF(vocabPath('gpt-2')).metadata;
    const editBpe = (k: string, v: unknown) => new Map<string, unknown>([...bpe, [k, v]]);
    expect(() => tokenizerFromGGUFMetadata(editBpe('tokenizer.ggml.pre', 'no-such-pre'))).toThrow(/unknown BPE pre-tokenizer 'no-such-pre'/);
    expect(() => tokenizerFromGGUFMetadata(editBpe('tokenizer.ggml.merges', ['Ġ t', 'Ġt ☃']))).toThrow(/merge 1 .*not in the vocabulary/);
  });
});
