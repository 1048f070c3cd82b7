/**
 * llama2.c's tokenizer.bin (and tok512.bin), read by ts/formats/llama2c.ts. Ids 0, 1, 2 are
 * <unk>, BOS, EOS and 3..258 the byte tokens <0x00>..<0xFF>; pieces store real spaces (" the").
 * The tokenizer encodes like llama2.c's encode(): BOS + " " dummy prefix + greedy score merges.
 */
import { readLlama2cTokenizer, type Llama2cTokenizer } from '../../formats/llama2c.js';
import { SentencePieceBPE } from '../spm.js';
import { VocabTokenizer } from '../tokenizer.js';
import { TokenizerError, TokenType, Vocab } from '../vocab.js';

export function llama2cTokenizer(parsed: Pick<Llama2cTokenizer, 'tokens' | 'scores'>): VocabTokenizer {
  if (parsed.tokens.length < 259) {
    throw new TokenizerError(`llama2.c tokenizer has ${parsed.tokens.length} tokens; it needs at least 259 (<unk>, BOS, EOS, 256 bytes)`);
  }
  const types = parsed.tokens.map((t, i) => {
    if (i === 0) return TokenType.UNKNOWN;
    if (i === 1 || i === 2) return TokenType.CONTROL;
    if (i >= 3 && i < 259 && /^<0x[0-9A-F]{2}>$/.test(t)) return TokenType.BYTE;
    return TokenType.NORMAL;
  });
  const vocab = new Vocab(parsed.tokens, types, parsed.scores);
  const model = new SentencePieceBPE(vocab, { dialect: 'llama2c', addSpacePrefix: true, unkId: 0 });
  return new VocabTokenizer(vocab, model, { special: { unk: 0, bos: 1, eos: 2 }, addBos: true, addEos: false });
}

/** Loads tokenizer.bin; `vocabSize` (from the model header) bounds the token count. */
export function loadLlama2cTokenizer(path: string | Uint8Array, vocabSize?: number): VocabTokenizer {
  return llama2cTokenizer(readLlama2cTokenizer(path, vocabSize));
}
