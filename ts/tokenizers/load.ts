/**
 * `loadTokenizer(path)`: detects the file format and returns a Tokenizer.
 *   - GGUF (magic "GGUF"): the embedded `tokenizer.ggml.*` vocabulary;
 *   - Hugging Face tokenizer.json (a directory holding one is accepted too; tokenizer_config.json
 *     next to it supplies BOS/EOS and add_bos/add_eos);
 *   - GPT-2 encoder.json + vocab.bpe (either file, the other next to it);
 *   - SentencePiece Unigram `.model` files (spiece.model, sentencepiece.bpe.model);
 *   - llama2.c tokenizer.bin / tok512.bin.
 * Anything else gets a TokenizerError that says what was found.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readGGUF } from '../formats/gguf.js';
import type { TokenizerSource } from '../formats/model-file.js';
import { loadGPT2Files } from './loaders/gpt2.js';
import { tokenizerFromGGUFMetadata } from './loaders/gguf-metadata.js';
import { loadHFTokenizer } from './loaders/huggingface.js';
import { loadLlama2cTokenizer } from './loaders/llama2c.js';
import { loadSentencePieceModel } from './loaders/sentencepiece-model.js';
import type { VocabTokenizer } from './tokenizer.js';
import { TokenizerError } from './vocab.js';

function head(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function loadTokenizer(path: string, options: { vocabSize?: number } = {}): VocabTokenizer {
  if (!existsSync(path)) throw new TokenizerError(`tokenizer file '${path}' does not exist`);
  if (statSync(path).isDirectory()) {
    for (const name of ['tokenizer.json', 'tokenizer.bin', 'encoder.json', 'spiece.model', 'sentencepiece.bpe.model']) {
      const p = join(path, name);
      if (existsSync(p)) return loadTokenizer(p, options);
    }
    throw new TokenizerError(`directory '${path}' holds no tokenizer.json, tokenizer.bin, encoder.json or SentencePiece .model`);
  }
  const h = head(path, 16);
  if (h.length >= 4 && h[0] === 0x47 && h[1] === 0x47 && h[2] === 0x55 && h[3] === 0x46) {
    return tokenizerFromGGUFMetadata(readGGUF(path).metadata);
  }
  const name = basename(path);
  if (name.endsWith('.model')) return loadSentencePieceModel(path);
  if (name === 'vocab.bpe' || name.endsWith('.bpe')) {
    const enc = join(dirname(path), 'encoder.json');
    if (!existsSync(enc)) throw new TokenizerError(`'${path}' is a GPT-2 merges file but '${enc}' is missing`);
    return loadGPT2Files(enc, path);
  }
  const firstChar = String.fromCharCode(...h).trimStart()[0];
  if (firstChar === '{') {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new TokenizerError(`'${path}' is not valid JSON: ${(err as Error).message}`);
    }
    // tokenizer.json has a "model" object; an encoder.json maps tokens (even one spelled "model") to numbers
    const model = json && typeof json === 'object' ? (json as Record<string, unknown>).model : undefined;
    if (model && typeof model === 'object') return loadHFTokenizer(path, json as Record<string, unknown>);
    if (json && typeof json === 'object') {
      const bpe = join(dirname(path), 'vocab.bpe');
      if (existsSync(bpe)) return loadGPT2Files(path, bpe, json as Record<string, unknown>);
      throw new TokenizerError(`'${path}' looks like a GPT-2 encoder.json but '${bpe}' is missing`);
    }
    throw new TokenizerError(`'${path}': JSON that is neither a tokenizer.json nor an encoder.json`);
  }
  // llama2.c has no magic: the first i32 is max_token_length, then (f32 score, i32 len, bytes)…
  try {
    return loadLlama2cTokenizer(path, options.vocabSize);
  } catch (err) {
    throw new TokenizerError(
      `'${path}' is not a recognised tokenizer (GGUF, tokenizer.json, encoder.json + vocab.bpe, llama2.c tokenizer.bin): ${(err as Error).message}`,
    );
  }
}

/** The tokenizer for what ts/formats' openModelFile found next to (or inside) a model. */
export function tokenizerFromSource(source: TokenizerSource, vocabSize?: number): VocabTokenizer {
  switch (source.kind) {
    case 'gguf':
      return tokenizerFromGGUFMetadata(source.gguf.metadata);
    case 'hf':
      return loadTokenizer(source.path);
    case 'llama2c':
      return loadLlama2cTokenizer(source.path, vocabSize);
    case 'none':
      throw new TokenizerError('the model has no tokenizer; pass one explicitly');
  }
}
