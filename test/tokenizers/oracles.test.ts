/**
 * Random text against independent engines:
 *   - llama.cpp itself (node-llama-cpp, vocabulary-only load) for the eight BPE/SentencePiece
 *     vocabularies — the GGUF reference implementation;
 *   - Hugging Face tokenizers (native) for WordPiece: BERT models are trained with its normalizer
 *     (accents and other Mn marks stripped when lower-casing). llama.cpp's WordPiece keeps them,
 *     so it differs from both on such text and is not the reference there.
 */
import { Tokenizer as HFTokenizer } from '@anush008/tokenizers';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, toTokenizerJSON } from '../../ts/tokenizers/index.js';
import { readVectors, repoRoot, VOCABS, vocabDir, vocabPath } from './helpers.js';

function nodeLlamaCpp(): string | null {
  for (const root of [join(repoRoot, 'bench', 'peers'), join(repoRoot, '..', 'main', 'bench', 'peers'), join(repoRoot, '..', '..', 'main', 'bench', 'peers')]) {
    const p = join(root, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
    if (existsSync(p)) return p;
  }
  return null;
}

/** Random strings mixing scripts, digits, punctuation, every kind of white space, astral code points. */
function randomTexts(count: number, seed: number): string[] {
  const alphabet = Array.from(
    "aZ'sStTrReEvVmMlLdD09 ½١   \t\n\r\u000B\u0085\u00A0\u2028\u3000\uFEFF\u200D.,!?-'\"()<>é漢字🦙𝔘𝟙Äöüßнещоកាន់ 東京 \u0301",
  );
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    let s = '';
    const len = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 80;
    for (let i = 0; i < len; i++) s += alphabet[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % alphabet.length];
    out.push(s);
  }
  return out;
}

const texts = randomTexts(400, 2024);
const peers = nodeLlamaCpp();

describe.skipIf(!existsSync(vocabDir) || !peers)('ours vs llama.cpp (node-llama-cpp) on random text', () => {
  type Llama = { loadModel(o: { modelPath: string; vocabOnly: boolean }): Promise<{ tokenize(t: string, special: boolean): number[]; dispose(): Promise<void> }>; dispose(): Promise<void> };
  let llama: Llama;
  beforeAll(async () => {
    const mod = (await import(pathToFileURL(peers!).href)) as { getLlama(o: object): Promise<Llama> };
    llama = await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'disabled' });
  });
  afterAll(async () => {
    await llama?.dispose();
  });

  for (const { name } of VOCABS.filter((v) => v.family !== 'wordpiece')) {
    it(`${name}: same ids as llama.cpp for ${texts.length} random texts`, async () => {
      const model = await llama.loadModel({ modelPath: vocabPath(name), vocabOnly: true });
      try {
        const tok = loadTokenizer(vocabPath(name));
        for (const t of texts) {
          expect(Array.from(tok.encode(t, { addSpecialTokens: false })), JSON.stringify(t)).toEqual(Array.from(model.tokenize(t, false)));
        }
      } finally {
        await model.dispose();
      }
    });
  }
});

describe.skipIf(!existsSync(vocabDir))('WordPiece vs Hugging Face tokenizers (native)', () => {
  it(`bert-bge: same ids for ${texts.length} random texts and llama.cpp's inputs`, async () => {
    const tok = loadTokenizer(vocabPath('bert-bge'));
    const hf = HFTokenizer.fromString(JSON.stringify(toTokenizerJSON(tok)));
    for (const t of [...texts, ...readVectors('bert-bge').map((v) => v.input), 'Café NAÏVE Ångström 東京タワー\u0000\uFFFD x\u0301']) {
      expect(Array.from(tok.encode(t, { addSpecialTokens: false })), JSON.stringify(t)).toEqual((await hf.encode(t, null, { addSpecialTokens: false })).getIds());
    }
    // with special tokens: [CLS] … [SEP] like Hugging Face's BertProcessing
    const withSpecial = (await hf.encode('Hello there', null, { addSpecialTokens: true })).getIds();
    expect(Array.from(tok.encode('Hello there'))).toEqual(withSpecial);
  });
});
