/** Found by `npm run fuzz` (tokenizer-json, seed 7): ids a tokenizer.json may not use are refused by name. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer } from '../../ts/tokenizers/load.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-harden-tok-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function withJson(name: string, doc: unknown): string {
  const p = join(dir, `${name}.json`);
  writeFileSync(p, JSON.stringify(doc));
  return p;
}
const model = (vocab: Record<string, number>) => ({ type: 'BPE', vocab, merges: [] });

describe('tokenizer.json ids', () => {
  it('a valid small one loads (the control)', () => {
    expect(loadTokenizer(withJson('ok', { model: model({ a: 0, b: 1 }), pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false }, decoder: { type: 'ByteLevel' }, added_tokens: [{ id: 2, content: '<x>', special: true }] })).vocabSize).toBe(3);
  });

  it.each([
    ['2^32', 2 ** 32],
    ['1e21', 1e21],
    ['-1', -1],
    ['1.5', 1.5],
  ])('an added token with id %s is a TokenizerError naming the token (was RangeError: Invalid array length)', (_n, id) => {
    const p = withJson(`added-${_n}`, { model: model({ a: 0 }), added_tokens: [{ id, content: '<|endoftext|>' }] });
    expect(() => loadTokenizer(p)).toThrow(/added token "<\|endoftext\|>" has invalid id/);
  });

  it('an id far past the others is refused instead of making millions of unused tokens (fuzz: tokenizer-json seed 7 #4694 took 34 s)', () => {
    const p = withJson('sparse', { model: model({ a: 0 }), added_tokens: [{ id: 2 ** 24, content: '<x>' }] });
    expect(() => loadTokenizer(p)).toThrow(/token ids go up to 16777216 but only 2 tokens are defined/);
  });

  it('an empty vocabulary is refused as such', () => {
    expect(() => loadTokenizer(withJson('empty', { model: model({}) }))).toThrow(/the vocabulary is empty/);
  });
});
