/** Shared paths and readers for the tokenizer tests. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ../shared from the main checkout (/work/main); worktrees under /work/wt/<name> look one level up. */
export const shared =
  [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(repoRoot, '..', 'shared');
export const vocabDir = join(shared, 'tokenizers', 'llama.cpp-vocab');
export const llama2TokenizerBin = join(shared, 'tokenizers', 'llama2-tokenizer.bin');
export const tok512 = join(shared, 'models', 'stories260K', 'tok512.bin');
export const stories260KGGUF = join(shared, 'models', 'stories260K', 'stories260K-f32.gguf');

/** The nine llama.cpp vocabularies with conformance vectors, and their families. */
export const VOCABS = [
  { name: 'gpt-2', family: 'bpe' },
  { name: 'llama-spm', family: 'spm' },
  { name: 'phi-3', family: 'spm' },
  { name: 'falcon', family: 'bpe' },
  { name: 'starcoder', family: 'bpe' },
  { name: 'deepseek-coder', family: 'bpe' },
  { name: 'mpt', family: 'bpe' },
  { name: 'refact', family: 'bpe' },
  { name: 'bert-bge', family: 'wordpiece' },
] as const;

export const vocabPath = (name: string) => join(vocabDir, `ggml-vocab-${name}.gguf`);

/**
 * llama.cpp's test files: .inp holds each input followed by "\n__ggml_vocab_test__\n" (so the
 * split leaves one empty string at the end, dropped here; empty inputs in between are kept);
 * .out holds one line of space-separated ids per input, without BOS.
 */
export function readVectors(name: string): Array<{ input: string; ids: number[] }> {
  const inputs = readFileSync(vocabPath(name) + '.inp', 'utf8').split('\n__ggml_vocab_test__\n');
  if (inputs[inputs.length - 1] !== '') throw new Error(`${name}.inp does not end with the separator`);
  inputs.pop();
  const lines = readFileSync(vocabPath(name) + '.out', 'utf8').split('\n');
  if (lines.length < inputs.length) throw new Error(`${name}.out has ${lines.length} lines for ${inputs.length} inputs`);
  return inputs.map((input, i) => {
    const line = lines[i]!.trim();
    return { input, ids: line === '' ? [] : line.split(/\s+/).map(Number) };
  });
}
