/**
 * Tokenizer files on their own: tokenizer.json (structural JSON edits), llama2.c's tok512.bin, and
 * the GGUF vocabularies of llama.cpp's conformance set (SentencePiece, BPE, WordPiece). Each
 * loaded tokenizer then encodes and decodes a mixed-script text and a few raw ids.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readGGUF } from '../../../ts/formats/gguf.js';
import { loadTokenizer } from '../../../ts/tokenizers/load.js';
import { tokenizerFromGGUFMetadata } from '../../../ts/tokenizers/loaders/gguf-metadata.js';
import { loadLlama2cTokenizer } from '../../../ts/tokenizers/loaders/llama2c.js';
import { makeRandomModel } from '../../make-random-model.js';
import { mutateBytes, mutateJson, type FuzzRng } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

const shared = [join(process.cwd(), '..', 'shared'), join(process.cwd(), '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(process.cwd(), '..', 'shared');
const tok512 = join(shared, 'models', 'stories260K', 'tok512.bin');
const vocabDir = join(shared, 'tokenizers', 'llama.cpp-vocab');
const VOCABS = ['llama-spm', 'gpt-2', 'bert-bge'].map((n) => join(vocabDir, `ggml-vocab-${n}.gguf`));

const TEXT = 'Hello wörld! 你好 — 🙂 tabs\tand  spaces\n<s> [CLS] 12345 ';

interface Tok {
  encode(t: string, o?: { addSpecialTokens?: boolean }): ArrayLike<number>;
  decode(ids: ArrayLike<number>): string;
  readonly vocabSize: number;
}

/** What a user does with a tokenizer once it loads. */
function exercise(t: Tok, rng: FuzzRng): void {
  const ids = t.encode(TEXT, { addSpecialTokens: rng.chance(0.5) });
  t.decode(ids);
  t.decode([0, Math.max(0, t.vocabSize - 1), rng.int(Math.max(1, t.vocabSize))]);
}

export const tokenizerJson: FuzzTarget<{ dir: string; text: string }> = {
  name: 'tokenizer-json',
  about: 'Hugging Face tokenizer.json (byte-level BPE seed) → load, encode, decode',
  unavailable: () => null,
  setup() {
    const dir = mkdtempSync(join(tmpdir(), 'tl-fuzz-tok-'));
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 12, hf: join(dir, 'hf') });
    return { dir, text: readFileSync(join(dir, 'hf', 'tokenizer.json'), 'utf8') };
  },
  run(ctx, rng) {
    const p = join(ctx.dir, 'tokenizer.json');
    writeFileSync(p, mutateJson(ctx.text, rng));
    exercise(loadTokenizer(p), rng);
  },
  teardown: (ctx) => rmSync(ctx.dir, { recursive: true, force: true }),
};

export const tokBin: FuzzTarget<Uint8Array> = {
  name: 'tok-bin',
  about: "llama2.c tokenizer.bin (stories260K's tok512.bin) → load with and without the vocab size, encode, decode",
  unavailable: () => (existsSync(tok512) ? null : `${tok512} is absent (../shared)`),
  setup: () => readFileSync(tok512),
  run(seed, rng) {
    const bytes = mutateBytes(seed, rng, seed.length);
    exercise(loadLlama2cTokenizer(bytes, rng.chance(0.5) ? 512 : undefined), rng);
  },
};

export const ggufVocab: FuzzTarget<Uint8Array[]> = {
  name: 'gguf-vocab',
  about: "llama.cpp's vocabulary GGUFs (SentencePiece llama-spm, BPE gpt-2, WordPiece bert-bge) → tokenizer, encode, decode",
  unavailable: () => {
    const missing = VOCABS.filter((p) => !existsSync(p));
    return missing.length ? `${missing.join(', ')} absent (../shared)` : null;
  },
  setup: () => VOCABS.map((p) => readFileSync(p)),
  run(seeds, rng) {
    const seed = rng.pick(seeds);
    const bytes = mutateBytes(seed, rng, seed.length, seeds);
    exercise(tokenizerFromGGUFMetadata(readGGUF(bytes).metadata), rng);
  },
};
