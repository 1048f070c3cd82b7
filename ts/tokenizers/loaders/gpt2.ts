/**
 * OpenAI's GPT-2 release files: encoder.json ({token: id}) + vocab.bpe ("#version" line, then one
 * "left right" merge per line, in rank order). Byte-level BPE with the gpt-2 pre-tokenizer;
 * `<|endoftext|>` is the control token used as BOS and EOS.
 */
import { readFileSync } from 'node:fs';
import { ByteLevelBPE } from '../bpe.js';
import { preTokenizerFor } from '../pretokenizers.js';
import { VocabTokenizer } from '../tokenizer.js';
import { TokenizerError, TokenType, Vocab } from '../vocab.js';

/** Turns a {token: id} map into a dense token list; holes and duplicate ids are errors. */
export function tokensFromIdMap(map: Record<string, unknown>, label: string): string[] {
  const entries = Object.entries(map);
  let max = -1;
  for (const [tok, id] of entries) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 1 << 24) {
      throw new TokenizerError(`${label}: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
    }
    if (id > max) max = id;
  }
  const tokens: Array<string | undefined> = new Array(max + 1);
  for (const [tok, id] of entries as Array<[string, number]>) {
    if (tokens[id] !== undefined) throw new TokenizerError(`${label}: id ${id} is used by both ${JSON.stringify(tokens[id])} and ${JSON.stringify(tok)}`);
    tokens[id] = tok;
  }
  for (let i = 0; i <= max; i++) if (tokens[i] === undefined) throw new TokenizerError(`${label}: no token has id ${i} (ids must be 0..${max} without gaps)`);
  return tokens as string[];
}

export function parseMergesText(text: string): string[] {
  return text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#version'));
}

export function gpt2Tokenizer(encoder: Record<string, unknown>, merges: string[], label = 'encoder.json'): VocabTokenizer {
  const tokens = tokensFromIdMap(encoder, label);
  const types = tokens.map((t) => (t === '<|endoftext|>' ? TokenType.CONTROL : TokenType.NORMAL));
  const vocab = new Vocab(tokens, types);
  const eot = vocab.id('<|endoftext|>');
  const bpe = new ByteLevelBPE(vocab, { merges, preTokenizer: preTokenizerFor('gpt-2') });
  return new VocabTokenizer(vocab, bpe, { special: { bos: eot, eos: eot }, addBos: false, addEos: false });
}

export function loadGPT2Files(encoderPath: string, bpePath: string, encoderJson?: Record<string, unknown>): VocabTokenizer {
  let encoder = encoderJson;
  if (!encoder) {
    try {
      encoder = JSON.parse(readFileSync(encoderPath, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new TokenizerError(`'${encoderPath}' is not valid JSON: ${(err as Error).message}`);
    }
  }
  if (!encoder || typeof encoder !== 'object' || Array.isArray(encoder)) throw new TokenizerError(`'${encoderPath}' is not a {token: id} object`);
  return gpt2Tokenizer(encoder, parseMergesText(readFileSync(bpePath, 'utf8')), encoderPath);
}
