/**
 * Which token ids end a generation. Chat models end a turn with an end-of-turn token that is often
 * not the vocabulary's EOS (`<|eot_id|>`, `<|im_end|>`, `<|end|>` …), and the files spread the facts
 * over several places; every one of them counts:
 *   - GGUF `tokenizer.ggml.eos_token_id`, `eot_token_id`, `eom_token_id`;
 *   - Hugging Face `config.json` and `generation_config.json` `eos_token_id` (a number or a list),
 *     `tokenizer_config.json` `eos_token` (a spelling);
 *   - the end-of-generation spellings llama.cpp recognises in any vocabulary (its `special_eog_ids`),
 *     so a GGUF whose converter wrote no EOT id still stops where llama.cpp stops.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelFile } from '../formats/model-file.js';

/** llama.cpp's list of end-of-generation token texts (src/llama-vocab.cpp). */
const EOG_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>', '<|endoftext|>',
  '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>',
  '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
];

export interface VocabLookup {
  readonly vocabSize: number;
  tokenToId?(token: string): number | undefined;
}

export function endOfGenerationIds(mf: ModelFile, tokenizer: VocabLookup): number[] {
  const ids = new Set<number>();
  const add = (v: unknown): void => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0 && n < tokenizer.vocabSize) ids.add(n);
    else if (Array.isArray(v)) for (const x of v) add(x);
  };
  const byText = (t: unknown): void => {
    const s = typeof t === 'string' ? t : typeof t === 'object' && t !== null ? (t as { content?: unknown }).content : undefined;
    if (typeof s === 'string') add(tokenizer.tokenToId?.(s));
  };
  if (mf.gguf) {
    const m = mf.gguf.metadata;
    for (const k of ['eos', 'eot', 'eom']) add(m.get(`tokenizer.ggml.${k}_token_id`));
  }
  if (mf.hfConfig) add(mf.hfConfig.eos_token_id);
  if (mf.format === 'safetensors') {
    add(readJson(mf.path, 'generation_config.json')?.eos_token_id);
    byText(readJson(mf.path, 'tokenizer_config.json')?.eos_token);
  }
  const byTextIds = new Map<string, number>();
  for (const t of EOG_TEXTS) {
    const id = tokenizer.tokenToId?.(t);
    if (id !== undefined) byTextIds.set(t, id);
  }
  for (const id of byTextIds.values()) ids.add(id);
  // llama.cpp: in vocabularies that end a turn with <|return|>/<|call|> (gpt-oss), <|end|> only ends a message.
  const end = byTextIds.get('<|end|>');
  if (end !== undefined && ((byTextIds.has('<|return|>') && byTextIds.has('<|call|>')) || (byTextIds.has('<|calls|>') && byTextIds.has('<|flush|>')))) ids.delete(end);
  return [...ids].sort((a, b) => a - b);
}

function readJson(modelPath: string, name: string): Record<string, unknown> | null {
  const dir = existsSync(modelPath) && statSync(modelPath).isDirectory() ? modelPath : dirname(modelPath);
  const file = join(dir, name);
  if (!existsSync(file)) return null;
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
