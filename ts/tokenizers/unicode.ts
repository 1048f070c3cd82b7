/**
 * Unicode helpers shared by the tokenizers: the White_Space class (JavaScript's `\s` is NOT
 * Unicode White_Space — it counts U+FEFF and misses U+0085), UTF-8 encoding that tolerates lone
 * surrogates, GPT-2's byte↔unicode map, and a BOM-preserving UTF-8 decoder.
 */
import { TextDecoder } from 'node:util';

/**
 * Unicode White_Space (PropList.txt), written as the inside of a regex character class. This is
 * what `\s` means in Rust's regex, Python's `re` on str, and llama.cpp's tables.
 */
export const WHITE_SPACE_CLASS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

const WHITE_SPACE_RE = new RegExp(`^[${WHITE_SPACE_CLASS}]$`, 'u');

export function isWhiteSpace(cp: number): boolean {
  if (cp < 0x80) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  return WHITE_SPACE_RE.test(String.fromCodePoint(cp));
}

/** UTF-8 decoder that keeps a leading U+FEFF (the default TextDecoder silently drops it). */
export function createUtf8Decoder(): TextDecoder {
  return new TextDecoder('utf-8', { ignoreBOM: true, fatal: false });
}

const sharedDecoder = createUtf8Decoder();

/** Decodes UTF-8 bytes; invalid sequences become U+FFFD and a leading BOM is kept. */
export function utf8Decode(bytes: Uint8Array): string {
  return sharedDecoder.decode(bytes);
}

const encoder = new TextEncoder();

/**
 * Encodes a string to UTF-8. Lone surrogates (invalid UTF-16) become U+FFFD (EF BF BD), the
 * WHATWG encoding rule — so every tokenizer sees the same bytes for the same broken input.
 */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Replaces lone surrogates with U+FFFD so regexes and code point walks see well-formed text. */
export function toWellFormed(text: string): string {
  // String.prototype.toWellFormed exists from Node 20; keep a fallback for older runtimes.
  const s = text as string & { toWellFormed?: () => string; isWellFormed?: () => boolean };
  if (typeof s.isWellFormed === 'function') return s.isWellFormed() ? text : s.toWellFormed!();
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/**
 * GPT-2's reversible byte↔unicode map: printable Latin-1 bytes map to themselves, the other 68
 * bytes to U+0100.. in byte order, so every byte-level token is a printable string.
 * Returns byteToChar[256] and a code point → byte lookup.
 */
export function byteLevelAlphabet(): { byteToChar: string[]; charToByte: Map<number, number> } {
  const byteToChar: string[] = new Array(256);
  const charToByte = new Map<number, number>();
  let next = 0x100;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    const cp = printable ? b : next++;
    byteToChar[b] = String.fromCharCode(cp);
    charToByte.set(cp, b);
  }
  return { byteToChar, charToByte };
}

/** Number of bytes in the UTF-8 sequence that starts with `lead` (1 for a stray continuation byte). */
export function utf8SequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xf0 && lead < 0xf8) return 4;
  if (lead >= 0xe0) return lead < 0xf0 ? 3 : 1;
  if (lead >= 0xc0) return 2;
  return 1;
}
