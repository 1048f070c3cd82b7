/**
 * WordPiece (BERT), as Hugging Face's BertNormalizer + BertPreTokenizer + WordPiece model do it:
 * - normalize: drop NUL, U+FFFD and "other" (C*) characters, map whitespace to ' ', put spaces around
 *   CJK ideographs, and when lower-casing also strip accents (NFD, drop combining marks);
 * - split on whitespace, and make every punctuation character a word of its own;
 * - per word, greedy longest match from the left, continuations spelled "##…"; a word with a part
 *   that matches nothing (or longer than 100 characters) becomes [UNK].
 * The vocabulary is in BERT's form ("##" continuations). llama.cpp's GGUF stores it with "▁" on
 * word starts instead; `fromLlamaCppWordPiece` converts back.
 */
import type { IdBuffer } from './id-buffer.js';
import type { TokenModel } from './model.js';
import { utf8Encode, WHITE_SPACE_CLASS } from './unicode.js';
import { TokenType, type Vocab } from './vocab.js';

export interface WordPieceOptions {
  unkId: number;
  lowercase?: boolean;
  /** Defaults to `lowercase`, as in BERT. */
  stripAccents?: boolean;
  handleChineseChars?: boolean;
  continuingSubwordPrefix?: string;
  maxInputCharsPerWord?: number;
}

const WS = new RegExp(`[${WHITE_SPACE_CLASS}]`, 'u');
const CONTROL = /^[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Cn}]$/u;
const PUNCT = /^\p{P}$/u;
const MARK = /\p{Mn}/gu;

function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

function isBertPunctuation(cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return PUNCT.test(String.fromCodePoint(cp));
}

export class WordPiece implements TokenModel {
  readonly family = 'wordpiece' as const;
  readonly stripsLeadingSpace = true;
  private readonly vocab: Vocab;
  readonly options: Readonly<Required<WordPieceOptions>>;
  private readonly cache = new Map<string, Uint32Array>();

  constructor(vocab: Vocab, options: WordPieceOptions) {
    this.vocab = vocab;
    const lowercase = options.lowercase ?? true;
    this.options = {
      unkId: options.unkId,
      lowercase,
      stripAccents: options.stripAccents ?? lowercase,
      handleChineseChars: options.handleChineseChars ?? true,
      continuingSubwordPrefix: options.continuingSubwordPrefix ?? '##',
      maxInputCharsPerWord: options.maxInputCharsPerWord ?? 100,
    };
  }

  /** BertNormalizer. */
  normalize(text: string): string {
    let out = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      // Hugging Face's order: drop NUL/U+FFFD/other-category first (so U+0085 and \v vanish), then spaces
      if (cp === 0 || cp === 0xfffd) continue;
      if (cp === 9 || cp === 10 || cp === 13) {
        out += ' ';
        continue;
      }
      if (CONTROL.test(ch)) continue;
      if (WS.test(ch)) {
        out += ' ';
        continue;
      }
      if (this.options.handleChineseChars && isChineseChar(cp)) out += ' ' + ch + ' ';
      else out += ch;
    }
    if (this.options.stripAccents) out = out.normalize('NFD').replace(MARK, '');
    if (this.options.lowercase) out = out.toLowerCase();
    return out;
  }

  /** BertPreTokenizer: whitespace splits, each punctuation character is its own word. */
  static splitWords(text: string): string[] {
    const words: string[] = [];
    let cur = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (WS.test(ch)) {
        if (cur) words.push(cur);
        cur = '';
      } else if (isBertPunctuation(cp)) {
        if (cur) words.push(cur);
        words.push(ch);
        cur = '';
      } else cur += ch;
    }
    if (cur) words.push(cur);
    return words;
  }

  encodeFragment(text: string, out: IdBuffer): void {
    for (const word of WordPiece.splitWords(this.normalize(text))) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.encodeWord(word);
        if (this.cache.size > 1 << 16) this.cache.clear();
        this.cache.set(word, ids);
      }
      out.pushAll(ids);
    }
  }

  encodeWord(word: string): Uint32Array {
    const chars = Array.from(word);
    const { unkId, continuingSubwordPrefix, maxInputCharsPerWord } = this.options;
    if (chars.length > maxInputCharsPerWord) return Uint32Array.of(unkId);
    const ids: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found = -1;
      while (end > start) {
        let sub = chars.slice(start, end).join('');
        if (start > 0) sub = continuingSubwordPrefix + sub;
        const id = this.vocab.id(sub);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) return Uint32Array.of(unkId);
      ids.push(found);
      start = end;
    }
    return Uint32Array.from(ids);
  }

  normalTokenBytes(id: number): Uint8Array {
    const s = this.vocab.tokens[id]!;
    const p = this.options.continuingSubwordPrefix;
    return utf8Encode(s.startsWith(p) && s.length > p.length ? s.slice(p.length) : ' ' + s);
  }
}

/**
 * llama.cpp's GGUF WordPiece vocabularies mark word-start tokens with "▁" and store continuations
 * bare; BERT's form has bare word starts and "##" continuations. Bracketed names ([CLS], [unused0])
 * and control tokens stay as they are.
 */
export function fromLlamaCppWordPiece(tokens: readonly string[], types?: ArrayLike<number>): string[] {
  return tokens.map((t, i) => {
    if (types && types[i] === TokenType.CONTROL) return t;
    if (t.startsWith('\u2581')) return t.slice(1);
    if (t.startsWith('[') && t.endsWith(']')) return t;
    return '##' + t;
  });
}
