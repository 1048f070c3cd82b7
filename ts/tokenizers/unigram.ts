/**
 * SentencePiece Unigram (T5, XLM-RoBERTa, mBART, ALBERT …): the most probable segmentation.
 *
 * The text is normalized first (a `UnigramPreprocessor`: SentencePiece's normalizer, or the
 * Hugging Face normalizer + Metaspace chain of a tokenizer.json), giving UTF-8 byte strings.
 * Each is segmented by Viterbi over byte positions: walking a trie of the pieces from every
 * character start, a piece ending at e improves best[e] when best[start] + score(piece) beats it
 * (ties keep the earlier candidate, as SentencePiece and llama.cpp do). A character that no
 * single-character piece covers may be taken as UNK with score min(normal scores) − 10.
 * Backtracking gives the pieces; UNK spans become their UTF-8 bytes as `<0xNN>` pieces with byte
 * fallback, else each run of UNKs becomes one UNK.
 *
 * Scores add up in doubles (llama.cpp and Hugging Face do; SentencePiece uses floats, which can
 * only matter on exact ties).
 */
import type { IdBuffer } from './id-buffer.js';
import type { TokenModel } from './model.js';
import { utf8Encode, utf8SequenceLength } from './unicode.js';
import { TokenType, TokenizerError, type Vocab } from './vocab.js';

export const UNK_PENALTY = 10;

/** Turns a text fragment into the normalized byte strings to segment (one, or one per word). */
export interface UnigramPreprocessor {
  /**
   * @param afterSpecial true at the start of the text and after a special token (where
   *   SentencePiece adds its dummy prefix); @param atStart true only at the very start.
   */
  split(text: string, afterSpecial: boolean, atStart: boolean): Uint8Array[];
  /** Whether the first piece of decoded text starts with a space to drop. */
  readonly addsPrefixSpace: boolean;
}

export interface UnigramOptions {
  unkId: number;
  /** Unknown characters become `<0xNN>` byte pieces (SentencePiece's byte_fallback). Default false. */
  byteFallback?: boolean;
  /** Let UNUSED pieces be produced (llama.cpp does; SentencePiece does not). Default false. */
  matchUnused?: boolean;
  /** Score of an UNK piece; default min(NORMAL scores) − 10. */
  unkScore?: number;
}

/** A byte trie of the pieces: children in one map keyed node·256 + byte. */
class PieceTrie {
  private readonly children = new Map<number, number>();
  /** Token id ending at each node, -1 for none. */
  ids: Int32Array = new Int32Array(1024).fill(-1);
  private nodes = 1;

  insert(bytes: Uint8Array, id: number): void {
    let node = 0;
    for (const b of bytes) {
      const key = node * 256 + b;
      let next = this.children.get(key);
      if (next === undefined) {
        next = this.nodes++;
        if (next >= this.ids.length) {
          const grown = new Int32Array(this.ids.length * 2).fill(-1);
          grown.set(this.ids);
          this.ids = grown;
        }
        this.children.set(key, next);
      }
      node = next;
    }
    // duplicated piece strings: the lowest id wins, as in a Map of pieces
    if (this.ids[node] === -1) this.ids[node] = id;
  }

  /** The child of `node` on byte b, or -1. */
  step(node: number, b: number): number {
    return this.children.get(node * 256 + b) ?? -1;
  }
}

export class Unigram implements TokenModel {
  readonly family = 'unigram' as const;
  readonly stripsLeadingSpace: boolean;
  readonly unkId: number;
  readonly byteFallback: boolean;
  readonly unkScore: number;
  readonly preprocessor: UnigramPreprocessor;
  private readonly vocab: Vocab;
  private readonly scores: Float32Array;
  private readonly trie = new PieceTrie();
  /** id of `<0xNN>` per byte, -1 when missing. */
  private readonly byteIds = new Int32Array(256).fill(-1);
  // Viterbi scratch, grown on demand
  private best = new Float64Array(256);
  private from = new Int32Array(256);
  private pieceAt = new Int32Array(256);

  constructor(vocab: Vocab, preprocessor: UnigramPreprocessor, options: UnigramOptions) {
    if (!vocab.scores) throw new TokenizerError('a Unigram vocabulary needs token scores');
    const unk = vocab.checkId(options.unkId, 'unknown token');
    if (unk === undefined) throw new TokenizerError('a Unigram vocabulary needs an unknown token id');
    this.vocab = vocab;
    this.scores = vocab.scores;
    this.preprocessor = preprocessor;
    this.stripsLeadingSpace = preprocessor.addsPrefixSpace;
    this.unkId = unk;
    this.byteFallback = options.byteFallback ?? false;
    let minScore = Infinity;
    for (let i = 0; i < vocab.size; i++) {
      const t = vocab.types[i];
      if (t === TokenType.NORMAL) minScore = Math.min(minScore, this.scores[i]!);
      const matchable = t === TokenType.NORMAL || t === TokenType.USER_DEFINED || (t === TokenType.UNUSED && options.matchUnused === true);
      if (matchable && vocab.tokens[i]!.length > 0) this.trie.insert(utf8Encode(vocab.tokens[i]!), i);
      if (t === TokenType.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(vocab.tokens[i]!);
        if (m && this.byteIds[parseInt(m[1]!, 16)] === -1) this.byteIds[parseInt(m[1]!, 16)] = i;
      }
    }
    if (!Number.isFinite(minScore)) minScore = 0;
    this.unkScore = options.unkScore ?? minScore - UNK_PENALTY;
    if (this.byteFallback && this.byteIds.some((id) => id < 0)) {
      throw new TokenizerError('Unigram byte fallback needs all 256 <0xNN> byte pieces in the vocabulary');
    }
  }

  encodeFragment(text: string, out: IdBuffer, afterSpecial: boolean, atStart = afterSpecial): void {
    for (const bytes of this.preprocessor.split(text, afterSpecial, atStart)) this.segment(bytes, out);
  }

  /** Viterbi over `s` (normalized UTF-8); appends the ids. */
  segment(s: Uint8Array, out: IdBuffer): void {
    const n = s.length;
    if (n === 0) return;
    if (this.best.length < n + 1) {
      const cap = Math.max(n + 1, this.best.length * 2);
      this.best = new Float64Array(cap);
      this.from = new Int32Array(cap);
      this.pieceAt = new Int32Array(cap);
    }
    const { best, from, pieceAt, trie, scores } = this;
    const ids = trie.ids;
    best.fill(-Infinity, 0, n + 1);
    best[0] = 0;
    for (let start = 0; start < n; ) {
      const charLen = Math.min(utf8SequenceLength(s[start]!), n - start);
      const here = best[start]!;
      let singleChar = false;
      let node = 0;
      for (let p = start; p < n; p++) {
        node = trie.step(node, s[p]!);
        if (node < 0) break;
        const id = ids[node]!;
        if (id < 0) continue;
        const end = p + 1;
        if (end - start === charLen) singleChar = true;
        const cand = here + (this.vocab.types[id] === TokenType.USER_DEFINED ? 0 : scores[id]!);
        if (cand > best[end]!) {
          best[end] = cand;
          from[end] = start;
          pieceAt[end] = id;
        }
      }
      if (!singleChar) {
        const end = start + charLen;
        const cand = here + this.unkScore;
        if (cand > best[end]!) {
          best[end] = cand;
          from[end] = start;
          pieceAt[end] = -1; // UNK
        }
      }
      start += charLen;
    }
    // backtrack end → start, then emit in order
    const path: number[] = [];
    for (let e = n; e > 0; e = from[e]!) path.push(e);
    let prevUnk = false;
    for (let k = path.length - 1; k >= 0; k--) {
      const e = path[k]!;
      const id = pieceAt[e]!;
      if (id >= 0) {
        out.push(id);
        prevUnk = false;
        continue;
      }
      if (this.byteFallback) {
        for (let b = from[e]!; b < e; b++) out.push(this.byteIds[s[b]!]!);
      } else if (!prevUnk) out.push(this.unkId);
      prevUnk = true;
    }
  }

  normalTokenBytes(id: number): Uint8Array {
    const s = this.vocab.tokens[id]!;
    if (this.vocab.types[id] === TokenType.BYTE) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(s);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    return utf8Encode(s.replaceAll('\u2581', ' '));
  }
}
