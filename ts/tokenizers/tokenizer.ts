/**
 * `VocabTokenizer`: one vocabulary + one algorithm (TokenModel) + the parts every family shares —
 * matching special/added tokens before the algorithm runs, BOS/EOS/CLS/SEP, decoding and the
 * streaming decoder.
 */
import { IdBuffer } from './id-buffer.js';
import { TokenBytes, type TokenModel } from './model.js';
import type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer, TokenizerFamily } from './types.js';
import { createUtf8Decoder, toWellFormed, utf8Decode } from './unicode.js';
import { TokenType, type SpecialIds, type Vocab } from './vocab.js';

export interface VocabTokenizerConfig {
  special?: SpecialIds;
  /** Prepend BOS when `addSpecialTokens` (ignored for WordPiece, which adds CLS … SEP). */
  addBos?: boolean;
  /** Append EOS when `addSpecialTokens`. */
  addEos?: boolean;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Longest-first alternation of the tokens, or null when there are none. */
function alternation(tokens: string[]): RegExp | null {
  const unique = [...new Set(tokens.filter((t) => t.length > 0))].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
  if (unique.length === 0) return null;
  return new RegExp(unique.map(escapeRegex).join('|'), 'g');
}

/** Appends the bytes of ids[from..to) to buf at o, leaving out ids flagged in `skip`; returns the new end. */
function copyTokenBytes(
  ids: ArrayLike<number>, from: number, to: number, flat: Uint8Array, offsets: Uint32Array, skip: Uint8Array | null, buf: Uint8Array, o: number,
): number {
  for (let i = from; i < to; i++) {
    const id = ids[i]!;
    if (skip !== null && skip[id] === 1) continue;
    let a = offsets[id]!;
    const b = offsets[id + 1]!;
    while (a < b) buf[o++] = flat[a++]!;
  }
  return o;
}

function overlapsSpan(spans: ReadonlyArray<readonly [number, number]>, a: number, b: number): boolean {
  for (const [s, e] of spans) if (a < e && b > s) return true;
  return false;
}

export class VocabTokenizer implements Tokenizer {
  readonly vocab: Vocab;
  readonly model: TokenModel;
  readonly specialIds: Readonly<SpecialIds>;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** Added tokens that are plain text (always matched) and all special tokens (matched with parseSpecial). */
  private readonly userTokens: RegExp | null;
  private readonly allSpecialTokens: RegExp | null;
  private readonly specialIndex = new Map<string, number>();
  private bytesCache: TokenBytes | undefined;

  constructor(vocab: Vocab, model: TokenModel, config: VocabTokenizerConfig = {}) {
    this.vocab = vocab;
    this.model = model;
    const special: SpecialIds = {};
    for (const [k, v] of Object.entries(config.special ?? {}) as Array<[keyof SpecialIds, number | undefined]>) {
      const id = vocab.checkId(v, `${k} token`);
      if (id !== undefined) special[k] = id;
    }
    this.specialIds = Object.freeze(special);
    this.addBos = config.addBos ?? false;
    this.addEos = config.addEos ?? false;
    const user: string[] = [];
    const all: string[] = [];
    for (let i = 0; i < vocab.size; i++) {
      const t = vocab.types[i];
      if (t !== TokenType.CONTROL && t !== TokenType.USER_DEFINED && t !== TokenType.UNKNOWN) continue;
      const s = vocab.tokens[i]!;
      if (s.length === 0) continue;
      if (!this.specialIndex.has(s)) this.specialIndex.set(s, i);
      all.push(s);
      if (t === TokenType.USER_DEFINED) user.push(s);
    }
    this.userTokens = alternation(user);
    this.allSpecialTokens = alternation(all);
  }

  get family(): TokenizerFamily {
    return this.model.family;
  }

  get vocabSize(): number {
    return this.vocab.size;
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.vocab.size ? this.vocab.tokens[id] : undefined;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.id(token);
  }

  isSpecial(id: number): boolean {
    const t = this.vocab.types[id];
    return t === TokenType.CONTROL || t === TokenType.UNKNOWN;
  }

  encode(text: string, options: EncodeOptions = {}): Uint32Array {
    if (typeof text !== 'string') throw new TypeError(`encode: text must be a string, got ${typeof text}`);
    const addSpecial = options.addSpecialTokens ?? true;
    const out = new IdBuffer(Math.min(1 << 20, (text.length >> 2) + 16));
    const wordpiece = this.model.family === 'wordpiece';
    if (addSpecial) {
      if (wordpiece) {
        if (this.specialIds.cls !== undefined) out.push(this.specialIds.cls);
      } else if (this.addBos && this.specialIds.bos !== undefined) out.push(this.specialIds.bos);
    }
    const clean = toWellFormed(text);
    const re = options.parseSpecial ? this.allSpecialTokens : this.userTokens;
    if (re === null) {
      this.model.encodeFragment(clean, out, true);
    } else {
      let afterSpecial = true; // SentencePiece adds its dummy prefix at the start and after a special token
      let last = 0;
      re.lastIndex = 0;
      const spans = options.parseSpecial ? options.literalSpans : undefined;
      for (let m = re.exec(clean); m !== null; m = re.exec(clean)) {
        if (spans && this.vocab.types[this.specialIndex.get(m[0])!] !== TokenType.USER_DEFINED && overlapsSpan(spans, m.index, m.index + m[0].length)) {
          re.lastIndex = m.index + 1; // data, not markup: a token starting later may still be markup
          continue;
        }
        if (m.index > last) this.model.encodeFragment(clean.slice(last, m.index), out, afterSpecial, last === 0);
        out.push(this.specialIndex.get(m[0])!);
        afterSpecial = true;
        last = m.index + m[0].length;
      }
      if (last < clean.length) this.model.encodeFragment(last === 0 ? clean : clean.slice(last), out, afterSpecial, last === 0);
    }
    if (addSpecial) {
      if (wordpiece) {
        if (this.specialIds.sep !== undefined) out.push(this.specialIds.sep);
      } else if (this.addEos && this.specialIds.eos !== undefined) out.push(this.specialIds.eos);
    }
    return out.toArray();
  }

  private get tokenBytes(): TokenBytes {
    return (this.bytesCache ??= new TokenBytes(this.vocab, this.model));
  }

  /** Every token's decoded bytes (built once): what constrained sampling matches grammars against. */
  tokenTable(): TokenBytes {
    return this.tokenBytes;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new TypeError('decode: ids must be an array or typed array of token ids');
    }
    const tb = this.tokenBytes;
    const skip = options.skipSpecialTokens ? tb.special : null;
    const n = ids.length;
    // one pass to check ids and size the output
    const vocabSize = this.vocab.size;
    const { offsets } = tb;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      if (!(id >= 0 && id < vocabSize && id === Math.floor(id))) {
        throw new RangeError(`decode: token id ${String(id)} at position ${i} is not in [0, ${vocabSize})`);
      }
      total += offsets[id + 1]! - offsets[id]!;
    }
    const buf = new Uint8Array(total);
    let i = 0;
    let o = 0;
    if (this.model.stripsLeadingSpace) {
      // the first piece of text loses its leading space (SentencePiece's dummy prefix, WordPiece's joiner)
      while (i < n && (skip?.[ids[i]!] || offsets[ids[i]!] === offsets[ids[i]! + 1])) i++;
      if (i < n) {
        const id = ids[i++]!;
        const a = offsets[id]! + tb.strippable[id]!;
        buf.set(tb.flat.subarray(a, offsets[id + 1]), 0);
        o = offsets[id + 1]! - a;
      }
    }
    o = copyTokenBytes(ids, i, n, tb.flat, offsets, skip, buf, o);
    return utf8Decode(buf.subarray(0, o));
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const { flat, offsets, strippable, special } = this.tokenBytes;
    const skip = options.skipSpecialTokens ?? false;
    const n = this.vocab.size;
    const decoder = createUtf8Decoder();
    let first = this.model.stripsLeadingSpace;
    return {
      push(id: number): string {
        if (!(id >= 0 && id < n && Number.isInteger(id))) throw new RangeError(`decode: token id ${String(id)} is not in [0, ${n})`);
        if (skip && special[id] === 1) return '';
        let a = offsets[id]!;
        const b = offsets[id + 1]!;
        if (first && a < b) {
          if (strippable[id]) a++;
          first = false;
        }
        // stream: true holds back an unfinished UTF-8 sequence until the next token completes it
        return decoder.decode(flat.subarray(a, b), { stream: true });
      },
      flush(): string {
        return decoder.decode();
      },
    };
  }
}
