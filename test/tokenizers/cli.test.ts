/** `tensorloom tokenize`: ids out, text back, help, and clear failures. */
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../ts/cli/tokenize.js';
import { loadTokenizer } from '../../ts/tokenizers/index.js';
import { tok512, vocabPath } from './helpers.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  return { out, err };
}
afterEach(() => vi.restoreAllMocks());

describe.skipIf(!existsSync(vocabPath('gpt-2')) || !existsSync(tok512))('tensorloom tokenize', () => {
  it('prints the ids of the text, and the text of --decode ids', async () => {
    const io = capture();
    expect(await run(['--tokenizer', vocabPath('gpt-2'), 'Hello world'])).toBe(0);
    expect(io.out).toEqual([Array.from(loadTokenizer(vocabPath('gpt-2')).encode('Hello world')).join(' ')]);
    io.out.length = 0;
    expect(await run(['-t', tok512, '--decode', '1,403,407', '--skip-special'])).toBe(0);
    expect(io.out).toEqual([loadTokenizer(tok512).decode([1, 403, 407], { skipSpecialTokens: true })]);
    io.out.length = 0;
    expect(await run(['-t', tok512, '--json', '--no-special', 'Once'])).toBe(0);
    expect(JSON.parse(io.out[0]!)).toEqual(Array.from(loadTokenizer(tok512).encode('Once', { addSpecialTokens: false })));
  });

  it('prints help, and exits 2 on missing or bad arguments', async () => {
    const io = capture();
    expect(await run(['--help'])).toBe(0);
    expect(io.out.join('\n')).toMatch(/usage: tensorloom tokenize/);
    expect(await run(['hello'])).toBe(2);
    expect(io.err.join('\n')).toMatch(/--tokenizer PATH is required/);
    expect(await run(['--bogus'])).toBe(2);
    await expect(run(['-t', tok512, '--decode', '1,x'])).rejects.toThrow(/'x' is not a token id/);
    await expect(run(['-t', tok512, '--decode', '99999'])).rejects.toThrow(RangeError);
  });
});
