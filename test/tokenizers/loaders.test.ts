/**
 * Loaders and the tokenizer.json writer. The writer's output is loaded by Hugging Face tokenizers
 * (native Rust build, @anush008/tokenizers) as an independent engine: same ids on llama.cpp's
 * vectors means both our file and our regex/BPE semantics match theirs.
 */
import { Tokenizer as HFTokenizer } from '@anush008/tokenizers';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get_encoding } from 'tiktoken';
import { afterAll, describe, expect, it } from 'vitest';
import { byteLevelAlphabet } from '../../ts/tokenizers/unicode.js';
import { loadTokenizer, saveTokenizerJSON, toTokenizerJSON, TokenizerError, type VocabTokenizer } from '../../ts/tokenizers/index.js';
import { readVectors, stories260KGGUF, tok512, VOCABS, vocabDir, vocabPath } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'tl-tok-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const EXTRA = ['a \uFEFFb', 'a\u0085b', '\uFEFFx', "WE'RE 3.14 ١٢٣ ½ 🦙🦙", '你好世界 こんにちは 안녕', 'x\r\n\r\n  y', 'ǅ ǈ ﬀ e\u0301'];

describe.skipIf(!existsSync(vocabDir))('tokenizer.json writer vs Hugging Face tokenizers (native)', () => {
  for (const { name, family } of VOCABS.filter((v) => v.family !== 'wordpiece')) {
    it(`${name}: HF loads our tokenizer.json and gives our ids`, async () => {
      const tok = loadTokenizer(vocabPath(name));
      const hf = HFTokenizer.fromString(JSON.stringify(toTokenizerJSON(tok)));
      const inputs = [...readVectors(name).map((v) => v.input), ...EXTRA];
      for (const input of inputs) {
        const ids = Array.from(tok.encode(input, { addSpecialTokens: false, parseSpecial: true }));
        const theirs = (await hf.encode(input, null, { addSpecialTokens: false })).getIds();
        expect(ids, `${family} ${JSON.stringify(input)}`).toEqual(theirs);
      }
    });
  }

  it.each(VOCABS.filter((v) => v.family !== 'wordpiece').map((v) => v.name))('%s: our loader reads the written tokenizer.json back to the same ids', (name) => {
    const tok = loadTokenizer(vocabPath(name));
    const path = join(tmp, `${name}.tokenizer.json`);
    saveTokenizerJSON(tok, path);
    const back = loadTokenizer(path);
    expect(back.family).toBe(tok.family);
    for (const { input } of readVectors(name)) {
      expect(Array.from(back.encode(input, { addSpecialTokens: false }))).toEqual(Array.from(tok.encode(input, { addSpecialTokens: false })));
    }
  });
});

describe.skipIf(!existsSync(vocabDir))('GPT-2 encoder.json + vocab.bpe', () => {
  it('loads from either file and matches tiktoken', () => {
    const gguf = loadTokenizer(vocabPath('gpt-2')) as VocabTokenizer;
    const dir = mkdtempSync(join(tmp, 'gpt2-'));
    const encoder: Record<string, number> = {};
    for (let i = 0; i < gguf.vocabSize; i++) encoder[gguf.idToToken(i)!] = i;
    writeFileSync(join(dir, 'encoder.json'), JSON.stringify(encoder));
    const json = toTokenizerJSON(gguf) as { model: { merges: string[][] } };
    writeFileSync(join(dir, 'vocab.bpe'), '#version: 0.2\n' + json.model.merges.map((m) => m.join(' ')).join('\n') + '\n');
    const enc = get_encoding('gpt2');
    try {
      for (const p of [join(dir, 'encoder.json'), join(dir, 'vocab.bpe')]) {
        const tok = loadTokenizer(p);
        for (const t of ['Hello world', ...EXTRA]) expect(Array.from(tok.encode(t))).toEqual(Array.from(enc.encode(t)));
        expect(tok.specialIds.eos).toBe(50256);
      }
    } finally {
      enc.free();
    }
  });
});

describe.skipIf(!existsSync(stories260KGGUF) || !existsSync(tok512))('stories260K: GGUF-embedded tokenizer vs tok512.bin', () => {
  it('gives the same ids for story text', () => {
    const gguf = loadTokenizer(stories260KGGUF);
    const bin = loadTokenizer(tok512);
    expect(gguf.vocabSize).toBe(512);
    for (const t of ['Once upon a time, there was a little girl named Lily.', 'She loved to play outside in the park.', '"Hi!" said Tom. 123', '']) {
      expect(Array.from(gguf.encode(t))).toEqual(Array.from(bin.encode(t)));
    }
  });
});

describe('format detection and malformed files', () => {
  const write = (name: string, data: string | Uint8Array) => {
    const p = join(tmp, name);
    writeFileSync(p, data);
    return p;
  };

  it('names a missing path', () => {
    expect(() => loadTokenizer(join(tmp, 'nope.json'))).toThrow(/does not exist/);
  });

  it('rejects a file of no known format', () => {
    expect(() => loadTokenizer(write('random.bin', Uint8Array.from({ length: 64 }, (_, i) => (i * 97) & 255)))).toThrow(TokenizerError);
    expect(() => loadTokenizer(write('empty.bin', new Uint8Array(0)))).toThrow(/not a recognised tokenizer/);
  });

  it('rejects malformed JSON and JSON of the wrong shape', () => {
    expect(() => loadTokenizer(write('bad.json', '{"model": '))).toThrow(/not valid JSON/);
    expect(() => loadTokenizer(write('unigram.json', JSON.stringify({ model: { type: 'Unigram', vocab: [['a', 0]] } })))).toThrow(/Unigram model needs an unk_id/);
    expect(() => loadTokenizer(write('wordlevel.json', JSON.stringify({ model: { type: 'WordLevel', vocab: { a: 0 } } })))).toThrow(/WordLevel.*not supported/);
    expect(() => loadTokenizer(write('lonely.json', JSON.stringify({ a: 0 })))).toThrow(/vocab\.bpe.*missing/);
  });

  const bpeJson = (vocab: Record<string, number>, merges: string[]) =>
    JSON.stringify({ model: { type: 'BPE', vocab, merges }, pre_tokenizer: { type: 'ByteLevel', use_regex: true } });
  const { byteToChar } = byteLevelAlphabet();
  const bytesVocab = Object.fromEntries(byteToChar.map((c, i) => [c, i]));

  it('rejects merges that name unknown tokens or make tokens outside the vocabulary', () => {
    expect(() => loadTokenizer(write('m1.json', bpeJson({ ...bytesVocab, ab: 256 }, ['a b', 'x zz'])))).toThrow(/merge 1 .*not in the vocabulary/);
    expect(() => loadTokenizer(write('m2.json', bpeJson(bytesVocab, ['a b'])))).toThrow(/makes "ab", which is not in the vocabulary/);
    expect(() => loadTokenizer(write('m3.json', bpeJson(bytesVocab, ['ab'])))).toThrow(/not "left right"/);
  });

  it('keeps the first rank of a repeated merge, and a duplicate id is an error', () => {
    const tok = loadTokenizer(write('dup-merge.json', bpeJson({ ...bytesVocab, ab: 256, bc: 257 }, ['b c', 'a b', 'b c'])));
    expect(Array.from(tok.encode('abc'))).toEqual([bytesVocab['a'], 257]); // "b c" (rank 0) beats "a b" (rank 1)
    // saved back, the merges are the ones given, the repeat in its place
    const more = loadTokenizer(write('dup-merge2.json', bpeJson({ ...bytesVocab, ab: 256, bc: 257, cd: 258 }, ['b c', 'a b', 'b c', 'c d', 'a b'])));
    expect((toTokenizerJSON(more as VocabTokenizer) as { model: { merges: string[][] } }).model.merges).toEqual([['b', 'c'], ['a', 'b'], ['b', 'c'], ['c', 'd'], ['a', 'b']]);
    expect(() => loadTokenizer(write('dup-id.json', bpeJson({ ...bytesVocab, ab: 5 }, [])))).toThrow(/id 5 is used by both/);
  });

  it('rejects truncated and implausible llama2.c tokenizer.bin files', () => {
    if (!existsSync(tok512)) return;
    const bytes = readFileSync(tok512);
    expect(() => loadTokenizer(write('trunc.bin', bytes.subarray(0, bytes.length - 3)))).toThrow(/tokenizer/);
    expect(() => loadTokenizer(write('short.bin', bytes.subarray(0, 2000)))).toThrow(TokenizerError);
    const bad = Uint8Array.from(bytes);
    new DataView(bad.buffer).setInt32(8, 1 << 30, true); // first token's length
    expect(() => loadTokenizer(write('badlen.bin', bad))).toThrow(TokenizerError);
    expect(() => loadTokenizer(tok512, { vocabSize: 1000 })).toThrow(TokenizerError);
  });

  it('rejects a GGUF whose tokenizer is inconsistent', () => {
    // the reader itself is tested by the formats suite; here: missing tokenizer keys
    if (!existsSync(stories260KGGUF)) return;
    const bytes = readFileSync(stories260KGGUF);
    // rename the "tokenizer.ggml.model" key in place: same length, so the file stays well-formed
    const key = Buffer.from('tokenizer.ggml.model');
    const at = bytes.indexOf(key);
    const copy = Buffer.from(bytes);
    copy.write('tokenizer.ggml.xxxxx', at);
    expect(() => loadTokenizer(write('notok.gguf', copy))).toThrow(/no embedded tokenizer/);
    const copy2 = Buffer.from(bytes);
    const tt = copy2.indexOf(Buffer.from('tokenizer.ggml.tokens'));
    copy2.write('tokenizer.ggml.tokenz', tt);
    expect(() => loadTokenizer(write('notokens.gguf', copy2))).toThrow(/tokenizer.ggml.tokens' is missing/);
  });
});
