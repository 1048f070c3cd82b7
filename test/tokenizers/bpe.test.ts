/** Byte-level BPE details on tiny hand-made vocabularies, where the right answer is worked out by hand. */
import { describe, expect, it } from 'vitest';
import { ByteLevelBPE, preTokenizerFor, Vocab, VocabTokenizer } from '../../ts/tokenizers/index.js';
import { byteLevelAlphabet } from '../../ts/tokenizers/unicode.js';

const { byteToChar } = byteLevelAlphabet();

function make(extra: string[], merges: string[], ignoreMerges = false): VocabTokenizer {
  const vocab = new Vocab([...byteToChar, ...extra]);
  return new VocabTokenizer(vocab, new ByteLevelBPE(vocab, { merges, preTokenizer: preTokenizerFor('gpt-2'), ignoreMerges }));
}
const id = (tok: VocabTokenizer, s: string) => tok.tokenToId(s)!;

describe('byte-level BPE by hand', () => {
  it('merges the lowest rank first, leftmost on ties', () => {
    const tok = make(['ab', 'bc', 'aa', 'aaa'], ['b c', 'a b', 'a a', 'aa a']);
    // "abc": (b,c) rank 0 beats (a,b) rank 1 → a + bc
    expect(Array.from(tok.encode('abc'))).toEqual([id(tok, 'a'), id(tok, 'bc')]);
    // "aaaa": (a,a) at 0 merges first (leftmost), then again at 2 → aa aa; (aa,a) never applies
    expect(Array.from(tok.encode('aaaa'))).toEqual([id(tok, 'aa'), id(tok, 'aa')]);
    // "aaa": aa + a → (aa, a) rank 3 → aaa
    expect(Array.from(tok.encode('aaa'))).toEqual([id(tok, 'aaa')]);
  });

  it('ignoreMerges (llama3): a piece that is a token is taken whole', () => {
    const withMerges = make(['ab', 'abc'], ['a b']);
    const whole = make(['ab', 'abc'], ['a b'], true);
    expect(Array.from(withMerges.encode('abc'))).toEqual([id(withMerges, 'ab'), id(withMerges, 'c')]);
    expect(Array.from(whole.encode('abc'))).toEqual([id(whole, 'abc')]);
  });

  it('the same word gives the same ids from the scan path and the heap path', () => {
    const tok = make(['ab', 'abab', 'ba'], ['a b', 'ab ab', 'b a']);
    const long = 'ab'.repeat(100); // 200 bytes: the heap path
    const short = 'ab'.repeat(10); // 20 bytes: the scan path
    const l = Array.from(tok.encode(long));
    const s = Array.from(tok.encode(short));
    expect(l).toEqual(Array(50).fill(id(tok, 'abab')));
    expect(s).toEqual(Array(5).fill(id(tok, 'abab')));
  });
});
