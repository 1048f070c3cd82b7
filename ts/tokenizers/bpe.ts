/**
 * Byte-level BPE (GPT-2 and its descendants), as llama.cpp's llm_tokenizer_bpe does it:
 * 1. the pre-tokenizer regexes split the text into pieces;
 * 2. each piece's UTF-8 bytes become byte tokens (GPT-2's byte↔unicode alphabet);
 * 3. the adjacent pair with the lowest merge rank merges, ties to the leftmost, until none is left.
 * Pieces repeat a lot in real text, so their ids are cached.
 */
import type { IdBuffer } from './id-buffer.js';
import { MergeHeap } from './merge-heap.js';
import type { TokenModel } from './model.js';
import { PairTable } from './pair-table.js';
import { PieceCache } from './piece-cache.js';
import type { RegexPreTokenizer } from './pretokenizers.js';
import { byteLevelAlphabet, utf8Encode } from './unicode.js';
import { TokenizerError, type Vocab } from './vocab.js';

export interface ByteLevelBPEOptions {
  /**
   * Merges in rank order, each "left right" (llama.cpp/GPT-2 vocab.bpe) or [left, right]: an array,
   * or a list read one at a time (a GGUF's GGUFStringList: no merge outlives the constructor).
   */
  merges: ReadonlyArray<string | readonly [string, string]> | { readonly length: number; at(index: number): string | undefined };
  preTokenizer: RegexPreTokenizer;
  /** llama3-style: a piece that is itself a token is used whole, without merging. */
  ignoreMerges?: boolean;
  /** Used for a byte the vocabulary has no token for (otherwise that byte is dropped, as llama.cpp does). */
  unkId?: number;
}

const CACHE_MAX_PIECE = 128;
/** Words up to this many bytes merge with a plain scan; longer ones use the heap. */
const SCAN_LIMIT = 48;

export class ByteLevelBPE implements TokenModel {
  readonly family = 'bpe' as const;
  readonly stripsLeadingSpace = false;
  readonly preTokenizer: RegexPreTokenizer;
  readonly ignoreMerges: boolean;
  private readonly vocab: Vocab;
  private readonly pairs: PairTable;
  /** Token id of each byte (-1 when the vocabulary lacks it). */
  private readonly byteIds = new Int32Array(256);
  private readonly byteToChar: string[];
  private readonly charToByte: Map<number, number>;
  private readonly unkId: number;
  private readonly cache = new PieceCache();
  private bytes = new Uint8Array(256);
  private syms = new Int32Array(256);
  /** Scratch for mergeScan: rank and pair-table slot of each adjacent pair. */
  private readonly ranks = new Int32Array(SCAN_LIMIT);
  private readonly slots = new Int32Array(SCAN_LIMIT);
  private readonly heap = new MergeHeap();
  /**
   * A merge whose pair an earlier merge already made (the table keeps the first): its rank, left
   * and right ids, so that `merges` lists every merge as given. Real tokenizers have none; the
   * table's entries are the others, in rank order.
   */
  private readonly repeated: number[] = [];

  constructor(vocab: Vocab, options: ByteLevelBPEOptions) {
    this.vocab = vocab;
    this.preTokenizer = options.preTokenizer;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.unkId = options.unkId ?? -1;
    const { byteToChar, charToByte } = byteLevelAlphabet();
    this.byteToChar = byteToChar;
    this.charToByte = charToByte;
    for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.id(byteToChar[b]!) ?? -1;

    const merges = options.merges;
    this.pairs = new PairTable(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const m = merges.at(rank)!;
      let l: string, r: string;
      if (typeof m === 'string') {
        // llama.cpp splits at the first space after the first character
        const sp = m.indexOf(' ', 1);
        if (sp < 0) throw new TokenizerError(`merge ${rank} (${JSON.stringify(m)}) is not "left right"`);
        l = m.slice(0, sp);
        r = m.slice(sp + 1);
      } else [l, r] = m;
      const li = vocab.id(l);
      const ri = vocab.id(r);
      const mi = vocab.id(l + r);
      if (li === undefined || ri === undefined) {
        throw new TokenizerError(`merge ${rank} (${JSON.stringify(l)} ${JSON.stringify(r)}) names a token that is not in the vocabulary`);
      }
      if (mi === undefined) {
        throw new TokenizerError(`merge ${rank} (${JSON.stringify(l)} ${JSON.stringify(r)}) makes ${JSON.stringify(l + r)}, which is not in the vocabulary`);
      }
      // a repeated pair keeps its first (lowest) rank
      if (!this.pairs.add(li, ri, rank, mi)) this.repeated.push(rank, li, ri);
    }
  }

  /** The merges in rank order (for saving as tokenizer.json), built on each call. */
  get merges(): ReadonlyArray<readonly [string, string]> {
    // the strings are the vocabulary's own (`id()` names the lowest id of a string)
    const tokens = this.vocab.tokens;
    const { pairs, repeated } = this;
    const list: Array<readonly [string, string]> = [];
    let e = 0;
    for (let k = 0; k <= repeated.length; k += 3) {
      const until = k < repeated.length ? repeated[k]! : Infinity;
      for (; e < pairs.size && pairs.rankAt(e) < until; e++) list.push([tokens[pairs.leftAt(e)]!, tokens[pairs.rightAt(e)]!]);
      if (k < repeated.length) list.push([tokens[repeated[k + 1]!]!, tokens[repeated[k + 2]!]!]);
    }
    return list;
  }

  encodeFragment(text: string, out: IdBuffer): void {
    const cache = this.cache;
    this.preTokenizer.split(text, (piece) => {
      if (cache.emit(piece, out)) return;
      const n = this.encodePieceInto(piece);
      if (piece.length <= CACHE_MAX_PIECE) cache.set(piece, this.syms, n);
      out.pushRange(this.syms, 0, n);
    });
  }

  /** BPE of one pre-tokenized piece. */
  encodePiece(piece: string): Uint32Array {
    const n = this.encodePieceInto(piece);
    return Uint32Array.from(this.syms.subarray(0, n));
  }

  /** BPE of one piece into this.syms[0..n); returns n. */
  private encodePieceInto(piece: string): number {
    const n = this.toBytes(piece);
    const bytes = this.bytes;
    if (this.ignoreMerges) {
      let s = '';
      for (let i = 0; i < n; i++) s += this.byteToChar[bytes[i]!];
      const whole = this.vocab.id(s);
      if (whole !== undefined) {
        this.syms[0] = whole;
        return 1;
      }
    }
    if (this.syms.length < n) this.syms = new Int32Array(n * 2);
    const syms = this.syms;
    for (let i = 0; i < n; i++) syms[i] = this.byteIds[bytes[i]!]!;
    const m = n <= SCAN_LIMIT ? this.mergeScan(syms, n) : this.mergeHeap(syms, n);
    // a byte without a token: UNK, or dropped when there is none (as llama.cpp does)
    let k = 0;
    for (let i = 0; i < m; i++) {
      const s = syms[i]!;
      if (s >= 0) syms[k++] = s;
      else if (this.unkId >= 0) syms[k++] = this.unkId;
    }
    return k;
  }

  /**
   * Quadratic but tiny: for short words a scan beats any bookkeeping. ranks[i] caches the rank of
   * (syms[i], syms[i+1]) so each round is a min-scan plus two lookups. Returns the new length.
   */
  private mergeScan(syms: Int32Array, n: number): number {
    const pairs = this.pairs;
    const ranks = this.ranks;
    const slots = this.slots;
    const NONE = 0x7fffffff;
    for (let i = 0; i + 1 < n; i++) ranks[i] = this.rankOf(syms, i);
    while (n > 1) {
      let best = NONE;
      let at = -1;
      for (let i = 0; i + 1 < n; i++) {
        const r = ranks[i]!;
        if (r < best) {
          best = r;
          at = i;
        }
      }
      if (at < 0) break;
      syms[at] = pairs.mergedAt(slots[at]!);
      for (let i = at + 1; i + 1 < n; i++) {
        syms[i] = syms[i + 1]!;
        ranks[i] = ranks[i + 1]!;
        slots[i] = slots[i + 1]!;
      }
      n--;
      if (at + 1 < n) ranks[at] = this.rankOf(syms, at);
      if (at > 0) ranks[at - 1] = this.rankOf(syms, at - 1);
    }
    return n;
  }

  /** Rank of the pair (syms[i], syms[i+1]) (0x7fffffff when it does not merge); its slot goes to this.slots[i]. */
  private rankOf(syms: Int32Array, i: number): number {
    const a = syms[i]!;
    const b = syms[i + 1]!;
    if (a < 0 || b < 0) return 0x7fffffff;
    const slot = this.pairs.find(a, b);
    this.slots[i] = slot;
    return slot < 0 ? 0x7fffffff : this.pairs.rankAt(slot);
  }

  /** O(n log n) for long words: a linked list of symbols and a heap of candidate pairs. */
  private mergeHeap(syms: Int32Array, n: number): number {
    const pairs = this.pairs;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = this.heap;
    heap.clear();
    const consider = (l: number, r: number) => {
      if (l < 0 || r < 0) return;
      const a = syms[l]!;
      const b = syms[r]!;
      if (a < 0 || b < 0) return;
      const slot = pairs.find(a, b);
      if (slot >= 0) heap.push(pairs.rankAt(slot), l, r, (a << 0) ^ Math.imul(b, 0x9e3779b1));
    };
    for (let i = 0; i + 1 < n; i++) consider(i, i + 1);
    const alive = new Uint8Array(n).fill(1);
    while (heap.pop()) {
      const l = heap.topPos;
      const r = heap.topRight;
      // stale: a side merged away, the pair is no longer adjacent, or a side changed token
      if (!alive[l] || !alive[r] || next[l] !== r) continue;
      if (((syms[l]! << 0) ^ Math.imul(syms[r]!, 0x9e3779b1)) !== heap.topExtra) continue;
      const slot = pairs.find(syms[l]!, syms[r]!);
      if (slot < 0 || pairs.rankAt(slot) !== heap.topPrio) continue;
      syms[l] = pairs.mergedAt(slot);
      alive[r] = 0;
      const rn = next[r]!;
      next[l] = rn;
      if (rn >= 0) prev[rn] = l;
      consider(prev[l]!, l);
      consider(l, rn);
    }
    let k = 0;
    for (let i = 0; i >= 0 && i < n; i = next[i]!) syms[k++] = syms[i]!;
    return k;
  }

  /** UTF-8 of the piece into this.bytes (lone surrogates become U+FFFD). Returns the length. */
  private toBytes(piece: string): number {
    const len = piece.length;
    if (this.bytes.length < len * 3) this.bytes = new Uint8Array(len * 3 + 16);
    const b = this.bytes;
    let n = 0;
    for (let i = 0; i < len; i++) {
      let c = piece.charCodeAt(i);
      if (c < 0x80) {
        b[n++] = c;
        continue;
      }
      if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 63);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? piece.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          b[n++] = 0xf0 | (cp >> 18);
          b[n++] = 0x80 | ((cp >> 12) & 63);
          b[n++] = 0x80 | ((cp >> 6) & 63);
          b[n++] = 0x80 | (cp & 63);
          continue;
        }
        c = 0xfffd;
      }
      b[n++] = 0xe0 | (c >> 12);
      b[n++] = 0x80 | ((c >> 6) & 63);
      b[n++] = 0x80 | (c & 63);
    }
    return n;
  }

  normalTokenBytes(id: number): Uint8Array {
    const s = this.vocab.tokens[id]!;
    const out: number[] = [];
    for (const ch of s) {
      const b = this.charToByte.get(ch.codePointAt(0)!);
      if (b !== undefined) out.push(b);
      else for (const x of utf8Encode(ch)) out.push(x); // not a byte-level char: its own UTF-8
    }
    return Uint8Array.from(out);
  }
}
