/**
 * The tokenizer that goes with a model file: the one embedded in a GGUF, the tokenizer.json of a
 * Hugging Face directory, llama2.c's tokenizer.bin / tok<vocab>.bin beside the .bin, or the file
 * given with `{ tokenizer }` (the model file view has already resolved which).
 */
import { endOfGenerationIds } from '../chat/stop-tokens.js';
import type { ModelFile } from '../formats/model-file.js';
import { TokenType } from '../tokenizers/vocab.js';
import { tokenizerFromSource } from '../tokenizers/load.js';
import type { VocabTokenizer } from '../tokenizers/tokenizer.js';

export interface OpenedTokenizer {
  tokenizer: VocabTokenizer;
  path: string | null;
  /** Every id that ends a generation (EOS, end-of-turn …: ts/chat/stop-tokens.ts). */
  stopIds: number[];
  /** Spellings of the control tokens, which a chat template's text may contain. */
  controlTokens: string[];
}

/** `vocabSize`: the model's vocabulary (from its config), which the tokenizer must fit. */
export function openTokenizer(mf: ModelFile, vocabSize: number): OpenedTokenizer {
  const t = mf.tokenizer;
  if (t.kind === 'none') {
    throw new Error(`tensorloom: no tokenizer found for ${mf.path}; pass { tokenizer: PATH } (tokenizer.json, llama2.c tokenizer.bin, or a GGUF with a vocabulary)`);
  }
  const tokenizer = tokenizerFromSource(t, vocabSize);
  const controlTokens: string[] = [];
  const { tokens, types } = tokenizer.vocab;
  for (let i = 0; i < tokens.length; i++) if ((types[i] === TokenType.CONTROL || types[i] === TokenType.UNKNOWN) && tokens[i]!.length > 0) controlTokens.push(tokens[i]!);
  return { tokenizer, path: t.kind === 'gguf' ? mf.path : t.path, stopIds: endOfGenerationIds(mf, tokenizer), controlTokens };
}
