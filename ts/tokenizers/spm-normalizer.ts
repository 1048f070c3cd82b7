/**
 * SentencePiece's text normalizer (NormalizerSpec), producing the UTF-8 bytes the Unigram model
 * segments:
 *   1. rules: at each position the longest precompiled-charsmap rule (NFKC and friends) rewrites
 *      the input; where none matches, the character stays;
 *   2. whitespace: `remove_extra_whitespaces` drops leading and trailing spaces and collapses runs,
 *      `add_dummy_prefix` puts one space before the text (after it with
 *      `treat_whitespace_as_suffix`), `escape_whitespaces` spells every space "▁" (U+2581).
 *
 * Two readings of step 2 differ on rare inputs, so both exist:
 *   - 'sentencepiece' (its normalizer.cc): an all-space text is empty; trailing "▁"s are removed
 *     even when the input spelled them; without a dummy prefix, collapsed text starts bare;
 *   - 'llama.cpp' (llm_tokenizer_ugm): every word gets its "▁" when spaces are collapsed, even
 *     without the dummy prefix; only spaces made by the rules are dropped or collapsed.
 * GGUF vocabularies use the llama.cpp reading, SentencePiece .model files the other.
 *
 * User-defined pieces are not seen here: VocabTokenizer splits them out of the text first.
 */
import type { PrecompiledCharsmap } from './charsmap.js';
import { utf8Encode, utf8SequenceLength } from './unicode.js';

export interface SentencePieceNormalizerOptions {
  charsmap?: PrecompiledCharsmap | null;
  addDummyPrefix?: boolean;
  removeExtraWhitespaces?: boolean;
  escapeWhitespaces?: boolean;
  treatWhitespaceAsSuffix?: boolean;
  style?: 'sentencepiece' | 'llama.cpp';
}

const SPACE_SYMBOL = Uint8Array.of(0xe2, 0x96, 0x81);
const ONE_SPACE = Uint8Array.of(0x20);

/** A growable byte buffer. */
class ByteSink {
  buf: Uint8Array;
  length = 0;
  constructor(cap: number) {
    this.buf = new Uint8Array(Math.max(16, cap));
  }
  push(b: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = b;
  }
  append(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) this.grow(this.length + bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  endsWith(bytes: Uint8Array): boolean {
    if (this.length < bytes.length) return false;
    for (let i = 0; i < bytes.length; i++) if (this.buf[this.length - bytes.length + i] !== bytes[i]) return false;
    return true;
  }
  private grow(min: number): void {
    let cap = this.buf.length * 2;
    while (cap < min) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export class SentencePieceNormalizer {
  readonly charsmap: PrecompiledCharsmap | null;
  readonly addDummyPrefix: boolean;
  readonly removeExtraWhitespaces: boolean;
  readonly escapeWhitespaces: boolean;
  readonly treatWhitespaceAsSuffix: boolean;
  readonly style: 'sentencepiece' | 'llama.cpp';
  private readonly space: Uint8Array;

  constructor(o: SentencePieceNormalizerOptions = {}) {
    this.charsmap = o.charsmap ?? null;
    this.addDummyPrefix = o.addDummyPrefix ?? true;
    this.removeExtraWhitespaces = o.removeExtraWhitespaces ?? true;
    this.escapeWhitespaces = o.escapeWhitespaces ?? true;
    this.treatWhitespaceAsSuffix = o.treatWhitespaceAsSuffix ?? false;
    this.style = o.style ?? 'sentencepiece';
    this.space = this.escapeWhitespaces ? SPACE_SYMBOL : ONE_SPACE;
  }

  /** Step 1 at `pos`: the rewritten bytes and how many input bytes they replace. */
  private prefix(input: Uint8Array, pos: number): { out: Uint8Array; consumed: number } {
    if (this.charsmap) {
      const m = this.charsmap.longestMatch(input, pos, input.length);
      if (m.length > 0) return { out: this.charsmap.replacement(m.replacement), consumed: m.length };
    }
    // the input comes from a JS string, so it is valid UTF-8 (lone surrogates already became U+FFFD)
    const len = Math.min(utf8SequenceLength(input[pos]!), input.length - pos);
    return { out: input.subarray(pos, pos + len), consumed: len };
  }

  normalize(input: Uint8Array): Uint8Array {
    return this.style === 'llama.cpp' ? this.normalizeLikeLlamaCpp(input) : this.normalizeLikeSentencePiece(input);
  }

  private normalizeLikeSentencePiece(input: Uint8Array): Uint8Array {
    const n = input.length;
    const out = new ByteSink(n * 3 + 8);
    let pos = 0;
    if (this.removeExtraWhitespaces) {
      while (pos < n) {
        const p = this.prefix(input, pos);
        if (!(p.out.length === 1 && p.out[0] === 0x20)) break;
        pos += p.consumed;
      }
    }
    if (pos >= n) return new Uint8Array(0);
    if (!this.treatWhitespaceAsSuffix && this.addDummyPrefix) out.append(this.space);
    let prevSpace = this.removeExtraWhitespaces;
    while (pos < n) {
      const p = this.prefix(input, pos);
      const s = p.out;
      let a = 0;
      if (prevSpace) while (a < s.length && s[a] === 0x20) a++;
      if (a < s.length) {
        for (let k = a; k < s.length; k++) {
          if (s[k] === 0x20 && this.escapeWhitespaces) out.append(SPACE_SYMBOL);
          else out.push(s[k]!);
        }
        prevSpace = s[s.length - 1] === 0x20;
      }
      pos += p.consumed;
      if (!this.removeExtraWhitespaces) prevSpace = false;
    }
    if (this.removeExtraWhitespaces) while (out.endsWith(this.space)) out.length -= this.space.length;
    if (this.treatWhitespaceAsSuffix && this.addDummyPrefix) out.append(this.space);
    return out.result();
  }

  private normalizeLikeLlamaCpp(input: Uint8Array): Uint8Array {
    const n = input.length;
    const out = new ByteSink(n * 3 + 8);
    const prepend = !this.treatWhitespaceAsSuffix && this.addDummyPrefix;
    const merge = this.removeExtraWhitespaces;
    let prepended = false;
    let inWord = false;
    for (let pos = 0; pos < n; ) {
      const p = this.prefix(input, pos);
      for (const c of p.out) {
        if (c !== 0x20) {
          if (!inWord) {
            inWord = true;
            if ((prepend && !prepended) || merge) {
              out.append(this.space);
              prepended = true;
            }
          }
          out.push(c);
        } else {
          inWord = false;
          if (!merge) out.append(this.space);
        }
      }
      pos += p.consumed;
    }
    if (this.treatWhitespaceAsSuffix && this.addDummyPrefix) out.append(this.space);
    return out.result();
  }
}

/** The Unigram preprocessor of SentencePiece models and GGUF `t5` vocabularies: one normalized string per fragment. */
export class SentencePiecePreprocessor {
  readonly addsPrefixSpace: boolean;
  constructor(readonly normalizer: SentencePieceNormalizer) {
    this.addsPrefixSpace = normalizer.addDummyPrefix && !normalizer.treatWhitespaceAsSuffix;
  }
  split(text: string): Uint8Array[] {
    return [this.normalizer.normalize(utf8Encode(text))];
  }
}
