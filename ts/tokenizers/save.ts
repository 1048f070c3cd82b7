/**
 * Writes a tokenizer as Hugging Face tokenizer.json, so trained vocabularies (and GGUF-embedded
 * ones) can be used by other tools. Byte-level BPE keeps its merges and pre-tokenizer regexes;
 * SentencePiece-style BPE gets merges derived from the scores the way Hugging Face's converter
 * derives them (every split of a token into two tokens, ordered by the token's score).
 */
import { writeFileSync } from 'node:fs';
import { ByteLevelBPE } from './bpe.js';
import { SentencePieceBPE, SPIECE_SPACE } from './spm.js';
import type { VocabTokenizer } from './tokenizer.js';
import { TokenizerError, TokenType, type Vocab } from './vocab.js';
import { WordPiece } from './wordpiece.js';

const GPT2_SOURCE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

type Json = Record<string, unknown>;

function addedTokens(vocab: Vocab): Json[] {
  const out: Json[] = [];
  for (let i = 0; i < vocab.size; i++) {
    const t = vocab.types[i];
    if (t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN) {
      out.push({ id: i, content: vocab.tokens[i], single_word: false, lstrip: false, rstrip: false, normalized: false, special: t !== TokenType.USER_DEFINED });
    }
  }
  return out;
}

function vocabObject(vocab: Vocab): Json {
  // no prototype: tokens such as "constructor" or "__proto__" must be plain keys
  const o = Object.create(null) as Json;
  for (let i = 0; i < vocab.size; i++) if (!Object.hasOwn(o, vocab.tokens[i]!)) o[vocab.tokens[i]!] = i;
  return o;
}

/** Hugging Face's SentencePieceExtractor order: by score (desc), then token id, then (left id, right id). */
export function mergesFromScores(vocab: Vocab): Array<[string, string]> {
  const scores = vocab.scores;
  if (!scores) throw new TokenizerError('mergesFromScores: the vocabulary has no scores');
  const found: Array<{ l: string; r: string; score: number; id: number; li: number; ri: number }> = [];
  for (let id = 0; id < vocab.size; id++) {
    const t = vocab.types[id];
    if (t !== TokenType.NORMAL && t !== TokenType.USER_DEFINED) continue;
    const chars = Array.from(vocab.tokens[id]!);
    const local: typeof found = [];
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = vocab.id(l);
      const ri = vocab.id(r);
      if (li !== undefined && ri !== undefined) local.push({ l, r, score: scores[id]!, id, li, ri });
    }
    local.sort((a, b) => a.li - b.li || a.ri - b.ri);
    found.push(...local);
  }
  found.sort((a, b) => b.score - a.score || a.id - b.id);
  return found.map((m) => [m.l, m.r]);
}

export function toTokenizerJSON(tok: VocabTokenizer): Json {
  const model = tok.model;
  const vocab = tok.vocab;
  if (model instanceof ByteLevelBPE) {
    const sources = model.preTokenizer.sources;
    const gpt2Only = sources.length === 1 && sources[0] === GPT2_SOURCE;
    const pre_tokenizer = gpt2Only
      ? { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }
      : {
          type: 'Sequence',
          pretokenizers: [
            ...sources.map((s) => ({ type: 'Split', pattern: { Regex: s }, behavior: 'Isolated', invert: false })),
            { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
          ],
        };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens(vocab),
      normalizer: null,
      pre_tokenizer,
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
        fuse_unk: false, byte_fallback: false, ignore_merges: model.ignoreMerges,
        vocab: vocabObject(vocab),
        merges: model.merges.map(([l, r]) => [l, r]),
      },
    };
  }
  if (model instanceof SentencePieceBPE && model.dialect === 'sentencepiece') {
    const unk = tok.specialIds.unk;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens(vocab),
      normalizer: {
        type: 'Sequence',
        normalizers: [
          ...(model.addSpacePrefix ? [{ type: 'Prepend', prepend: SPIECE_SPACE }] : []),
          { type: 'Replace', pattern: { String: ' ' }, content: SPIECE_SPACE },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: SPIECE_SPACE }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(model.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE', dropout: null, unk_token: unk !== undefined ? vocab.tokens[unk] : null,
        continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
        vocab: vocabObject(vocab),
        merges: mergesFromScores(vocab),
      },
    };
  }
  if (model instanceof WordPiece) {
    const o = model.options;
    const { cls, sep } = tok.specialIds;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: addedTokens(vocab),
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: o.handleChineseChars, strip_accents: o.stripAccents, lowercase: o.lowercase },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor:
        cls !== undefined && sep !== undefined
          ? { type: 'BertProcessing', sep: [vocab.tokens[sep], sep], cls: [vocab.tokens[cls], cls] }
          : null,
      decoder: { type: 'WordPiece', prefix: o.continuingSubwordPrefix, cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: vocab.tokens[o.unkId],
        continuing_subword_prefix: o.continuingSubwordPrefix,
        max_input_chars_per_word: o.maxInputCharsPerWord,
        vocab: vocabObject(vocab),
      },
    };
  }
  throw new TokenizerError(`toTokenizerJSON: saving a ${tok.family} tokenizer${model instanceof SentencePieceBPE ? ' (llama2.c dialect)' : ''} is not supported`);
}

export function saveTokenizerJSON(tok: VocabTokenizer, path: string): void {
  writeFileSync(path, JSON.stringify(toTokenizerJSON(tok)) + '\n');
}
