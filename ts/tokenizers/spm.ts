/**
 * SentencePiece-style BPE with scores (Llama 1/2, phi-3, llama2.c tokenizer.bin).
 *
 * Text → symbols (one per code point) → repeatedly merge the adjacent pair whose concatenation is a
 * token with the highest score (ties: leftmost) → a symbol that is not a token falls back to its
 * UTF-8 bytes as `<0xNN>` tokens (or UNK). This is llama.cpp's llm_tokenizer_spm and also exactly
 * what llama2.c's encode() computes (it rescans all pairs each round; we keep a heap).
 *
 * Two dialects:
 * - 'sentencepiece' (GGUF / tokenizer.json): spaces become "▁"; a dummy "▁" prefix goes before the
 *   text and after each special token when `addSpacePrefix`; control, unknown, unused and byte
 *   tokens are never produced by merging (SentencePiece's rule — so text cannot spell `<s>`).
 * - 'llama2c' (tokenizer.bin): tokens store real spaces; the dummy prefix is the " " token, added
 *   once when the text is non-empty; a code point missing from the vocabulary becomes its bytes
 *   (id = byte + 3) before merging, and any token may be produced — llama2.c's encode() as written.
 *
 * Speed: text is cut into segments at a space that no token can span (no token contains the
 * character before it followed by a space), merges never cross such a cut, so segments (≈ words)
 * are merged independently and cached. Merging runs on token ids with a pair table built from
 * every split of a token into two tokens (`mergeSegmentByIds`); the string version
 * (`mergeSegment`) is the reference, used when a token holds a character that is not a token.
 */
import type { IdBuffer } from './id-buffer.js';
import { MergeHeap } from './merge-heap.js';
import { PairTable } from './pair-table.js';
import { PieceCache } from './piece-cache.js';
import type { TokenModel } from './model.js';
import { utf8Encode } from './unicode.js';
import { TokenType, TokenizerError, type Vocab } from './vocab.js';

export const SPIECE_SPACE = '\u2581';

export interface SentencePieceBPEOptions {
  dialect?: 'sentencepiece' | 'llama2c';
  /** Prepend a space to the text (and after each special token): SentencePiece's add_dummy_prefix. */
  addSpacePrefix?: boolean;
  unkId?: number;
}

const CACHE_MAX_SEGMENT = 128;

export class SentencePieceBPE implements TokenModel {
  readonly family = 'spm' as const;
  readonly dialect: 'sentencepiece' | 'llama2c';
  readonly addSpacePrefix: boolean;
  readonly stripsLeadingSpace: boolean;
  private readonly vocab: Vocab;
  private readonly scores: Float32Array;
  private readonly unkId: number;
  /** id of `<0xNN>` per byte, -1 when missing. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  /** Tokens merging may produce, by string. */
  private readonly mergeable = new Map<string, number>();
  /** The space character of this dialect ("▁" or " "). */
  private readonly space: string;
  /** Code points that some token has right before a space: segments are not cut after them. */
  private readonly beforeSpace = new Set<number>();
  private readonly cache = new PieceCache();
  private readonly heap = new MergeHeap();
  /** (left id, right id) → merged id, for every split of a mergeable token into two mergeable tokens. */
  private readonly pairs: PairTable;
  /** Single-character tokens by code point (BMP table + map for the rest); -1 when none. */
  private readonly bmpIds = new Int32Array(0x10000).fill(-1);
  private readonly astralIds = new Map<number, number>();
  /**
   * True when merging by ids is exactly merging by strings: every character of every mergeable
   * token is itself a token (always so in SentencePiece models). Otherwise the string path runs.
   */
  readonly mergesByIds: boolean;

  constructor(vocab: Vocab, options: SentencePieceBPEOptions = {}) {
    this.vocab = vocab;
    this.dialect = options.dialect ?? 'sentencepiece';
    this.addSpacePrefix = options.addSpacePrefix ?? true;
    this.stripsLeadingSpace = this.addSpacePrefix;
    this.unkId = options.unkId ?? -1;
    if (!vocab.scores) throw new TokenizerError('a SentencePiece BPE vocabulary needs token scores');
    this.scores = vocab.scores;
    this.space = this.dialect === 'llama2c' ? ' ' : SPIECE_SPACE;
    const llama2c = this.dialect === 'llama2c';
    if (llama2c && vocab.size < 259) {
      throw new TokenizerError(`a llama2.c vocabulary needs the 256 byte tokens at ids 3..258, but has only ${vocab.size} tokens`);
    }
    for (let b = 0; b < 256; b++) {
      if (llama2c) this.byteIds[b] = b + 3;
      else this.byteIds[b] = vocab.id(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1;
    }
    const sp = this.space.codePointAt(0)!;
    for (let i = 0; i < vocab.size; i++) {
      const t = vocab.types[i];
      const ok = llama2c || t === TokenType.NORMAL || t === TokenType.USER_DEFINED;
      if (!ok) continue;
      const s = vocab.tokens[i]!;
      if (!this.mergeable.has(s)) this.mergeable.set(s, i);
      let prev = -1;
      for (const ch of s) {
        const cp = ch.codePointAt(0)!;
        if (cp === sp && prev >= 0) this.beforeSpace.add(prev);
        prev = cp;
      }
    }
    let allCharsAreTokens = true;
    for (const [str, id] of this.mergeable) {
      const cp = str.codePointAt(0)!;
      if (str.length === (cp > 0xffff ? 2 : 1)) {
        if (cp < 0x10000) this.bmpIds[cp] = id;
        else this.astralIds.set(cp, id);
      }
    }
    this.pairs = new PairTable(this.mergeable.size * 2);
    for (const [str, id] of this.mergeable) {
      const chars = Array.from(str);
      for (const ch of chars) if (this.charId(ch.codePointAt(0)!) < 0) allCharsAreTokens = false;
      let left = '';
      for (let k = 1; k < chars.length; k++) {
        left += chars[k - 1];
        const l = this.mergeable.get(left);
        const r = l === undefined ? undefined : this.mergeable.get(str.slice(left.length));
        if (l !== undefined && r !== undefined) this.pairs.add(l, r, 0, id);
      }
    }
    this.mergesByIds = llama2c || allCharsAreTokens;
  }

  encodeFragment(text: string, out: IdBuffer, afterSpecial: boolean): void {
    if (text.length === 0) return;
    // the dummy prefix; spaces stay ' ' here and become "▁" (sentencepiece dialect) in the merge
    // loop, which spares a copy of the text and keeps Latin-1 text in V8's compact strings
    const s = this.addSpacePrefix && afterSpecial ? ' ' + text : text;
    // cut into segments before a space that no token can reach across
    let start = 0;
    for (let i = s.indexOf(' ', 1); i > 0; i = s.indexOf(' ', i + 1)) {
      if (this.canCutBefore(s, i)) {
        this.encodeSegment(s.slice(start, i), out);
        start = i;
      }
    }
    this.encodeSegment(start === 0 ? s : s.slice(start), out);
  }

  /** True when no token can span the boundary between s[i-1] and the space at s[i]. */
  private canCutBefore(s: string, i: number): boolean {
    let prev = s.charCodeAt(i - 1);
    if (prev >= 0xdc00 && prev <= 0xdfff && i >= 2) prev = s.codePointAt(i - 2)!;
    if (this.dialect === 'llama2c') {
      // a code point without a token becomes byte tokens "<0xNN>", which end with '>'
      if (!this.mergeable.has(String.fromCodePoint(prev))) prev = 0x3e;
    } else if (prev === 0x20) prev = 0x2581;
    return !this.beforeSpace.has(prev);
  }

  private encodeSegment(seg: string, out: IdBuffer): void {
    if (this.cache.emit(seg, out)) return;
    if (!this.mergesByIds) {
      const ids = this.mergeSegment(this.dialect === 'llama2c' ? seg : seg.replaceAll(' ', SPIECE_SPACE));
      if (seg.length <= CACHE_MAX_SEGMENT) this.cache.set(seg, ids, ids.length);
      out.pushAll(ids);
      return;
    }
    const n = this.mergeSegmentInto(seg);
    if (seg.length <= CACHE_MAX_SEGMENT) this.cache.set(seg, this.scratchOut, n);
    out.pushRange(this.scratchOut, 0, n);
  }

  /** mergeSegmentInto, copied out (for tests and callers outside the encode loop). */
  mergeSegmentByIds(seg: string): Uint32Array {
    const n = this.mergeSegmentInto(seg); // may grow the scratch buffers: read scratchOut after
    return this.scratchOut.slice(0, n);
  }

  private scratchIds = new Int32Array(256);
  private scratchCps = new Int32Array(256);
  private scratchNext = new Int32Array(256);
  private scratchPrev = new Int32Array(256);
  private scratchOut = new Uint32Array(256);

  private growScratch(cap: number): void {
    this.scratchIds = new Int32Array(cap);
    this.scratchCps = new Int32Array(cap);
    this.scratchNext = new Int32Array(cap);
    this.scratchPrev = new Int32Array(cap);
    this.scratchOut = new Uint32Array(cap);
  }

  private charId(cp: number): number {
    return cp < 0x10000 ? this.bmpIds[cp]! : (this.astralIds.get(cp) ?? -1);
  }

  /** The merge loop on token ids (see the file comment): the fast path. Ids go to scratchOut. */
  private mergeSegmentInto(seg: string): number {
    const llama2c = this.dialect === 'llama2c';
    const len = seg.length;
    const cap = len * 4;
    if (this.scratchIds.length < cap) this.growScratch(cap);
    const { scratchIds: ids, scratchCps: cps, scratchNext: next, scratchPrev: prev, scratchOut: out } = this;
    let n = 0;
    for (let i = 0; i < len; i++) {
      let cp = seg.charCodeAt(i);
      if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < len) {
        const d = seg.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (d - 0xdc00);
          i++;
        }
      }
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate (encode() already replaced them)
      else if (cp === 0x20 && !llama2c) cp = 0x2581; // SentencePiece spells spaces "▁"
      const id = this.charId(cp);
      if (id >= 0 || !llama2c) {
        cps[n] = cp;
        ids[n++] = id;
      } else {
        // llama2.c: an unknown code point becomes its bytes (id byte+3) before merging
        for (const b of utf8Encode(String.fromCodePoint(cp))) ids[n++] = b + 3;
      }
    }
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = this.heap;
    const pairs = this.pairs;
    const scores = this.scores;
    heap.clear();
    for (let i = 0; i + 1 < n; i++) {
      const a = ids[i]!;
      const b = ids[i + 1]!;
      if (a < 0 || b < 0) continue;
      const slot = pairs.find(a, b);
      if (slot >= 0) heap.push(-scores[pairs.mergedAt(slot)]!, i, i + 1, pairs.mergedAt(slot));
    }
    while (heap.pop()) {
      const l = heap.topPos;
      const r = heap.topRight;
      // stale when either side merged since: r no longer follows l, or the pair now makes something else
      if (next[l] !== r || ids[l]! < 0 || ids[r]! < 0) continue;
      const slot = pairs.find(ids[l]!, ids[r]!);
      if (slot < 0 || pairs.mergedAt(slot) !== heap.topExtra) continue;
      ids[l] = heap.topExtra;
      ids[r] = -2; // merged away
      const rn = next[r]!;
      next[l] = rn;
      if (rn >= 0) prev[rn] = l;
      const pl = prev[l]!;
      if (pl >= 0 && ids[pl]! >= 0) {
        const s2 = pairs.find(ids[pl]!, ids[l]!);
        if (s2 >= 0) heap.push(-scores[pairs.mergedAt(s2)]!, pl, l, pairs.mergedAt(s2));
      }
      if (rn >= 0 && ids[rn]! >= 0) {
        const s3 = pairs.find(ids[l]!, ids[rn]!);
        if (s3 >= 0) heap.push(-scores[pairs.mergedAt(s3)]!, l, rn, pairs.mergedAt(s3));
      }
    }
    let count = 0;
    for (let i = 0; i >= 0 && i < n; i = next[i]!) {
      const id = ids[i]!;
      if (id >= 0) {
        out[count++] = id;
        continue;
      }
      // not a token: byte fallback, else UNK (llama.cpp's resegment)
      count = this.byteFallback(cps[i]!, out, count);
    }
    return count;
  }

  /** Writes the `<0xNN>` tokens of the code point's UTF-8 (or UNK when one is missing) at out[count]. */
  private byteFallback(cp: number, out: Uint32Array, count: number): number {
    const ids = this.byteIds;
    let b0: number, b1 = -1, b2 = -1, b3 = -1;
    if (cp < 0x80) b0 = cp;
    else if (cp < 0x800) [b0, b1] = [0xc0 | (cp >> 6), 0x80 | (cp & 63)];
    else if (cp < 0x10000) [b0, b1, b2] = [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
    else [b0, b1, b2, b3] = [0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63)];
    const bytes = b3 >= 0 ? [b0, b1, b2, b3] : b2 >= 0 ? [b0, b1, b2] : b1 >= 0 ? [b0, b1] : [b0];
    if (bytes.every((b) => ids[b]! >= 0)) for (const b of bytes) out[count++] = ids[b]!;
    else if (this.unkId >= 0) out[count++] = this.unkId;
    return count;
  }

  /** The merge loop on strings (see the file comment): exact for any vocabulary. */
  mergeSegment(seg: string): Uint32Array {
    const llama2c = this.dialect === 'llama2c';
    const text: string[] = [];
    const ids: number[] = [];
    for (const ch of seg) {
      const id = this.mergeable.get(ch);
      if (id !== undefined || !llama2c) {
        text.push(ch);
        ids.push(id ?? -1);
      } else {
        // llama2.c: an unknown code point becomes its bytes (id byte+3) before merging
        for (const b of utf8Encode(ch)) {
          text.push(this.vocab.tokens[b + 3]!);
          ids.push(b + 3);
        }
      }
    }
    const n = text.length;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    const len = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
      len[i] = text[i]!.length;
    }
    const heap = this.heap;
    heap.clear();
    const consider = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const id = this.mergeable.get(text[l]! + text[r]!);
      // max score first: store it negated in the min-heap; `extra` carries the merged id
      if (id !== undefined) heap.push(-this.scores[id]!, l, r, id);
    };
    for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
    while (heap.pop()) {
      const l = heap.topPos;
      const r = heap.topRight;
      const id = heap.topExtra;
      // stale when either side changed since the entry was made
      if (len[l] === 0 || len[r] === 0 || next[l] !== r || len[l]! + len[r]! !== this.vocab.tokens[id]!.length) continue;
      if (text[l]! + text[r]! !== this.vocab.tokens[id]) continue;
      text[l] = this.vocab.tokens[id]!;
      ids[l] = id;
      len[l] = text[l]!.length;
      len[r] = 0;
      const rn = next[r]!;
      next[l] = rn;
      if (rn >= 0) prev[rn] = l;
      consider(prev[l]!, l);
      consider(l, rn);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0 && i < n; i = next[i]!) {
      const id = ids[i]!;
      if (id >= 0) {
        out.push(id);
        continue;
      }
      // not a token: byte fallback, else UNK (llama.cpp's resegment)
      const bytes = utf8Encode(text[i]!);
      let all = true;
      for (const b of bytes) if (this.byteIds[b]! < 0) all = false;
      if (all) for (const b of bytes) out.push(this.byteIds[b]!);
      else if (this.unkId >= 0) out.push(this.unkId);
    }
    return Uint32Array.from(out);
  }

  normalTokenBytes(id: number): Uint8Array {
    const s = this.vocab.tokens[id]!;
    if (this.vocab.types[id] === TokenType.BYTE || (this.dialect === 'llama2c' && id >= 3 && id < 259)) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    return utf8Encode(this.dialect === 'llama2c' ? s : s.replaceAll(SPIECE_SPACE, ' '));
  }
}
