/**
 * Builds a tokenizer from GGUF metadata (`tokenizer.ggml.*`), with llama.cpp's defaults for keys a
 * file leaves out. Takes the metadata map so it works with any GGUF reader (ts/formats/gguf.ts).
 */
import { GGUFStringList } from '../../formats/gguf-string-list.js';
import { ByteLevelBPE } from '../bpe.js';
import { PrecompiledCharsmap } from '../charsmap.js';
import { SentencePieceNormalizer, SentencePiecePreprocessor } from '../spm-normalizer.js';
import { Unigram } from '../unigram.js';
import { preTokenizerFor } from '../pretokenizers.js';
import { SentencePieceBPE } from '../spm.js';
import { VocabTokenizer } from '../tokenizer.js';
import { TokenizerError, TokenType, Vocab, type SpecialIds } from '../vocab.js';
import { fromLlamaCppWordPiece, WordPiece } from '../wordpiece.js';

export type MetadataMap = ReadonlyMap<string, unknown>;

/** llama.cpp pre-tokenizer names that also turn on ignore_merges (a whole-word token wins). */
const IGNORE_MERGES_PRE = new Set(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'pixtral', 'tekken']);

function get<T>(meta: MetadataMap, key: string, what: string, check: (v: unknown) => v is T): T | undefined {
  const v = meta.get(key);
  if (v === undefined) return undefined;
  if (!check(v)) throw new TokenizerError(`GGUF metadata '${key}' should be ${what}`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
/** Merges: as the reader keeps them (GGUFStringList, decoded one at a time) or as a string[]. */
const isStringList = (v: unknown): v is string[] | GGUFStringList => v instanceof GGUFStringList || isStringArray(v);
const isNumberArray = (v: unknown): v is ArrayLike<number> =>
  ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);

/** Whether the metadata carries an embedded tokenizer. */
export function hasGGUFTokenizer(meta: MetadataMap): boolean {
  return meta.has('tokenizer.ggml.model') && meta.has('tokenizer.ggml.tokens');
}

export function tokenizerFromGGUFMetadata(meta: MetadataMap): VocabTokenizer {
  const model = get(meta, 'tokenizer.ggml.model', 'a string', isString);
  if (model === undefined) throw new TokenizerError("GGUF file has no embedded tokenizer ('tokenizer.ggml.model' is missing)");
  const tokens = get(meta, 'tokenizer.ggml.tokens', 'an array of strings', isStringArray);
  if (!tokens) throw new TokenizerError("GGUF tokenizer: 'tokenizer.ggml.tokens' is missing");
  const types = get(meta, 'tokenizer.ggml.token_type', 'an integer array', isNumberArray);
  const scores = get(meta, 'tokenizer.ggml.scores', 'a float array', isNumberArray);
  const num = (k: string) => get(meta, `tokenizer.ggml.${k}`, 'a number', isNumber);
  const flag = (k: string) => get(meta, `tokenizer.ggml.${k}`, 'a bool', isBool);
  const pre = get(meta, 'tokenizer.ggml.pre', 'a string', isString);

  const special = (defaults: SpecialIds): SpecialIds => ({
    bos: num('bos_token_id') ?? defaults.bos,
    eos: num('eos_token_id') ?? defaults.eos,
    unk: num('unknown_token_id') ?? defaults.unk,
    pad: num('padding_token_id') ?? defaults.pad,
    sep: num('seperator_token_id') ?? num('separator_token_id') ?? defaults.sep,
    cls: num('cls_token_id') ?? defaults.cls,
    mask: num('mask_token_id') ?? defaults.mask,
  });

  switch (model) {
    case 'llama': {
      const vocab = new Vocab(tokens, types, scores ?? new Float32Array(tokens.length));
      const ids = special({ bos: 1, eos: 2, unk: 0 });
      const unk = vocab.checkId(ids.unk, 'unknown token');
      const spm = new SentencePieceBPE(vocab, { addSpacePrefix: flag('add_space_prefix') ?? true, unkId: unk });
      return new VocabTokenizer(vocab, spm, { special: ids, addBos: flag('add_bos_token') ?? true, addEos: flag('add_eos_token') ?? false });
    }
    case 'gpt2': {
      const merges = get(meta, 'tokenizer.ggml.merges', 'an array of strings', isStringList);
      if (!merges) throw new TokenizerError("GGUF BPE tokenizer: 'tokenizer.ggml.merges' is missing");
      const vocab = new Vocab(tokens, types);
      const preName = pre ?? 'default';
      const ids = special({});
      const bpe = new ByteLevelBPE(vocab, {
        merges,
        preTokenizer: preTokenizerFor(preName),
        ignoreMerges: IGNORE_MERGES_PRE.has(preName),
        unkId: vocab.checkId(ids.unk, 'unknown token'),
      });
      return new VocabTokenizer(vocab, bpe, { special: ids, addBos: flag('add_bos_token') ?? false, addEos: flag('add_eos_token') ?? false });
    }
    case 'bert': {
      const bertTokens = fromLlamaCppWordPiece(tokens, types);
      // [PAD]-style names stay put; make sure they are treated as control tokens
      const bertTypes = Uint8Array.from(bertTokens, (t, i) => (types ? types[i]! : TokenType.NORMAL));
      const vocab = new Vocab(bertTokens, bertTypes);
      const ids = special({ unk: 100, sep: 102, pad: 0, cls: 101, mask: 103 });
      const unk = vocab.checkId(ids.unk, 'unknown token');
      if (unk === undefined) throw new TokenizerError('GGUF WordPiece tokenizer needs an unknown token id');
      const wp = new WordPiece(vocab, { unkId: unk, lowercase: true });
      return new VocabTokenizer(vocab, wp, { special: ids });
    }
    case 't5': {
      // SentencePiece Unigram (T5, XLM-RoBERTa), with llama.cpp's defaults and its reading of the
      // normalizer: no byte fallback, UNUSED pieces matchable (see unigram.ts, spm-normalizer.ts)
      if (!scores) throw new TokenizerError("GGUF Unigram tokenizer: 'tokenizer.ggml.scores' is missing");
      const vocab = new Vocab(tokens, types, scores);
      const ids = special({ eos: 1, unk: 2, pad: 0 });
      const blob = meta.get('tokenizer.ggml.precompiled_charsmap');
      if (blob !== undefined && !(blob instanceof Uint8Array || blob instanceof Int8Array)) {
        throw new TokenizerError("GGUF metadata 'tokenizer.ggml.precompiled_charsmap' should be a uint8/int8 array");
      }
      const charsmap = blob && blob.length > 0 ? new PrecompiledCharsmap(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength)) : null;
      const normalizer = new SentencePieceNormalizer({
        charsmap,
        addDummyPrefix: flag('add_space_prefix') ?? false,
        removeExtraWhitespaces: flag('remove_extra_whitespaces') ?? false,
        style: 'llama.cpp',
      });
      const unk = vocab.checkId(ids.unk, 'unknown token');
      if (unk === undefined) throw new TokenizerError('GGUF Unigram tokenizer needs an unknown token id');
      const model = new Unigram(vocab, new SentencePiecePreprocessor(normalizer), { unkId: unk, byteFallback: false, matchUnused: true });
      return new VocabTokenizer(vocab, model, { special: ids, addBos: flag('add_bos_token') ?? false, addEos: flag('add_eos_token') ?? true });
    }
    default:
      throw new TokenizerError(`GGUF tokenizer model '${model}' is not supported (supported: llama, gpt2, bert, t5)`);
  }
}
