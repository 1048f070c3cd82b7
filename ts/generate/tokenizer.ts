/**
 * The tokenizer that goes with a model file: the one embedded in a GGUF, the tokenizer.json of a
 * Hugging Face directory, llama2.c's tokenizer.bin / tok<vocab>.bin beside the .bin, or the file
 * given with `{ tokenizer }` (the model file view has already resolved which).
 */
import type { ModelFile } from '../formats/model-file.js';
import { tokenizerFromSource } from '../tokenizers/load.js';
import type { GenerationTokenizer } from './types.js';

/** `vocabSize`: the model's vocabulary (from its config), which the tokenizer must fit. */
export function openTokenizer(mf: ModelFile, vocabSize: number): { tokenizer: GenerationTokenizer; path: string | null } {
  const t = mf.tokenizer;
  if (t.kind === 'none') {
    throw new Error(`tensorloom: no tokenizer found for ${mf.path}; pass { tokenizer: PATH } (tokenizer.json, llama2.c tokenizer.bin, or a GGUF with a vocabulary)`);
  }
  const tokenizer = tokenizerFromSource(t, vocabSize);
  return { tokenizer, path: t.kind === 'gguf' ? mf.path : t.path };
}
