/**
 * What a tokenization algorithm provides to `VocabTokenizer` (which adds special-token matching,
 * BOS/EOS and decoding on top): encoding of plain-text fragments and the bytes of each token.
 */
import type { IdBuffer } from './id-buffer.js';
import { utf8Encode } from './unicode.js';
import { TokenType, type Vocab } from './vocab.js';

export interface TokenModel {
  readonly family: 'bpe' | 'spm' | 'wordpiece' | 'unigram';
  /**
   * Appends the ids of `text`, which holds no special tokens. `afterSpecial` is true for the first
   * fragment and for fragments right after a special token (SentencePiece adds its dummy prefix there);
   * `atStart` only for the fragment at the start of the text (Hugging Face's Metaspace 'first').
   */
  encodeFragment(text: string, out: IdBuffer, afterSpecial: boolean, atStart?: boolean): void;
  /** Bytes a normal token decodes to (control/added tokens decode to their UTF-8 text). */
  normalTokenBytes(id: number): Uint8Array;
  /** Decoding drops one leading space from the first piece of text (SentencePiece, WordPiece). */
  readonly stripsLeadingSpace: boolean;
}

/**
 * All tokens' decoded bytes in one flat buffer (offsets[i]..offsets[i+1]), built once, so decoding
 * is a copy loop and one UTF-8 decode.
 */
export class TokenBytes {
  readonly flat: Uint8Array;
  readonly offsets: Uint32Array;
  /** 1 where decoding may drop the token's leading space when it comes first (see TokenModel). */
  readonly strippable: Uint8Array;
  /** 1 for control and unknown tokens: what `skipSpecialTokens` leaves out. */
  readonly special: Uint8Array;

  constructor(vocab: Vocab, model: TokenModel) {
    const n = vocab.size;
    this.strippable = new Uint8Array(n);
    this.special = new Uint8Array(n);
    this.offsets = new Uint32Array(n + 1);
    const wordpiece = model.family === 'wordpiece';
    // Each token's bytes go straight into a growing buffer: holding them all until the end (one
    // small typed array per token) put ~45 MB of short-lived objects in the old generation for a
    // 128k vocabulary, raising the worker's peak RSS by ~30 MB on the first generate.
    let flat = new Uint8Array(Math.max(64, n * 8));
    let o = 0;
    for (let i = 0; i < n; i++) {
      const t = vocab.types[i];
      const special = t === TokenType.CONTROL || t === TokenType.USER_DEFINED || t === TokenType.UNKNOWN;
      // WordPiece joins words with spaces, [CLS]/[SEP] included; elsewhere special text is verbatim
      const b = special ? utf8Encode(wordpiece ? ' ' + vocab.tokens[i]! : vocab.tokens[i]!) : model.normalTokenBytes(i);
      this.strippable[i] = model.stripsLeadingSpace && b[0] === 0x20 && (wordpiece || !special) ? 1 : 0;
      if (t === TokenType.CONTROL || t === TokenType.UNKNOWN) this.special[i] = 1;
      if (o + b.length > flat.length) {
        const grown = new Uint8Array(Math.max(2 * flat.length, o + b.length));
        grown.set(flat.subarray(0, o));
        flat = grown;
      }
      this.offsets[i] = o;
      flat.set(b, o);
      o += b.length;
    }
    this.offsets[n] = o;
    this.flat = flat.slice(0, o);
  }
}
