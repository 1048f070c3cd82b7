/**
 * BPE training (the classic recipe): pre-tokenize, count words, count adjacent symbol pairs,
 * merge the most frequent pair into a new token, update the counts, repeat until the vocabulary
 * is full or no pair occurs `minFrequency` times.
 *
 * Deterministic: words are processed in first-seen order and ties between equally frequent
 * pairs go to the pair whose (left id, right id) is smallest — i.e. the pair made of older
 * tokens wins (byte/character ids are assigned in byte/code-point order, merged tokens in merge
 * order). Counts are updated incrementally: only the words that hold the merged pair are
 * touched, and a max-heap with lazy re-validation picks the next pair.
 *
 * byteLevel: true  → GPT-2 style: bytes as the alphabet, the gpt-2 pre-tokenizer; loads into
 *                     ByteLevelBPE (and saves as tokenizer.json).
 * byteLevel: false → SentencePiece style: characters as the alphabet, spaces as "▁" with a dummy
 *                     prefix, `<0xNN>` byte-fallback tokens for unseen characters, merge order as
 *                     scores; loads into SentencePieceBPE.
 */
import { ByteLevelBPE } from './bpe.js';
import { preTokenizerFor } from './pretokenizers.js';
import { SentencePieceBPE, SPIECE_SPACE } from './spm.js';
import { VocabTokenizer } from './tokenizer.js';
import { byteLevelAlphabet, toWellFormed, utf8Encode } from './unicode.js';
import { TokenizerError, TokenType, Vocab, type SpecialIds } from './vocab.js';

export interface TrainBPEOptions {
  /** Final vocabulary size, special tokens and the alphabet included. */
  vocabSize: number;
  /** Bytes (GPT-2) or characters (SentencePiece-style) as the alphabet. Default true. */
  byteLevel?: boolean;
  /** Control tokens placed first (ids 0..): e.g. ['<|endoftext|>'] or ['<unk>', '<s>', '</s>']. */
  specialTokens?: string[];
  /** Pairs seen fewer times than this are never merged. Default 2. */
  minFrequency?: number;
}

export interface TrainBPEResult {
  tokenizer: VocabTokenizer;
  /** Merges in rank order. */
  merges: Array<[string, string]>;
}

const PAIR_SHIFT = 2 ** 21; // pair key = left * 2^21 + right (exact in a double for ids < 2^21)

/** Max-heap of (count, pair key); ties: smaller key first. Entries may be stale (checked on pop). */
class CountHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private better(i: number, j: number): boolean {
    const a = this.counts[i]!;
    const b = this.counts[j]!;
    return a > b || (a === b && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  pop(): [number, number] | undefined {
    const n = this.counts.length;
    if (n === 0) return undefined;
    const top: [number, number] = [this.counts[0]!, this.keys[0]!];
    this.swap(0, n - 1);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    const m = n - 1;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let b = i;
      if (l < m && this.better(l, b)) b = l;
      if (r < m && this.better(r, b)) b = r;
      if (b === i) break;
      this.swap(i, b);
      i = b;
    }
    return top;
  }
}

function specialIdsFor(tokens: string[]): SpecialIds {
  const ids: SpecialIds = {};
  tokens.forEach((t, i) => {
    if (t === '<s>' || t === '<|begin_of_text|>') ids.bos ??= i;
    else if (t === '</s>' || t === '<|end_of_text|>') ids.eos ??= i;
    else if (t === '<|endoftext|>') {
      ids.bos ??= i;
      ids.eos ??= i;
    } else if (t === '<unk>') ids.unk ??= i;
    else if (t === '<pad>' || t === '<|pad|>') ids.pad ??= i;
  });
  return ids;
}

export function trainBPE(texts: Iterable<string>, options: TrainBPEOptions): TrainBPEResult {
  const byteLevel = options.byteLevel ?? true;
  const specials = options.specialTokens ?? [];
  const minFrequency = Math.max(1, options.minFrequency ?? 2);
  if (!Number.isInteger(options.vocabSize) || options.vocabSize < 1) throw new RangeError(`trainBPE: vocabSize must be a positive integer, got ${options.vocabSize}`);
  if (new Set(specials).size !== specials.length) throw new TokenizerError('trainBPE: specialTokens has duplicates');

  // 1. word counts, in first-seen order
  const wordCounts = new Map<string, number>();
  const countWord = (w: string) => wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
  const pre = preTokenizerFor('gpt-2');
  for (const raw of texts) {
    const text = toWellFormed(raw);
    if (byteLevel) pre.split(text, countWord);
    else {
      if (text.length === 0) continue;
      const s = (' ' + text).replaceAll(' ', SPIECE_SPACE);
      let start = 0;
      for (let i = s.indexOf(SPIECE_SPACE, 1); i > 0; i = s.indexOf(SPIECE_SPACE, i + 1)) {
        if (s[i - 1] !== SPIECE_SPACE) {
          countWord(s.slice(start, i));
          start = i;
        }
      }
      countWord(s.slice(start));
    }
  }

  // 2. the alphabet and each word's initial symbols
  const tokens: string[] = [...specials];
  const types: number[] = specials.map((t) => (t === '<unk>' ? TokenType.UNKNOWN : TokenType.CONTROL));
  const idOf = new Map<string, number>();
  specials.forEach((t, i) => idOf.set(t, i));
  const addToken = (s: string, type: number): number => {
    const id = tokens.length;
    tokens.push(s);
    types.push(type);
    if (!idOf.has(s)) idOf.set(s, id);
    return id;
  };
  const words: Int32Array[] = [];
  const freqs: number[] = [];
  if (byteLevel) {
    const { byteToChar } = byteLevelAlphabet();
    const byteId = byteToChar.map((c) => addToken(c, TokenType.NORMAL));
    for (const [w, c] of wordCounts) {
      words.push(Int32Array.from(utf8Encode(w), (b) => byteId[b]!));
      freqs.push(c);
    }
  } else {
    for (let b = 0; b < 256; b++) addToken(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TokenType.BYTE);
    const chars = new Set<string>();
    for (const w of wordCounts.keys()) for (const ch of w) chars.add(ch);
    for (const ch of [...chars].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!)) if (!idOf.has(ch)) addToken(ch, TokenType.NORMAL);
    for (const [w, c] of wordCounts) {
      words.push(Int32Array.from(Array.from(w), (ch) => idOf.get(ch)!));
      freqs.push(c);
    }
  }
  if (tokens.length > options.vocabSize) {
    throw new TokenizerError(`trainBPE: vocabSize ${options.vocabSize} is smaller than the ${tokens.length} special and alphabet tokens`);
  }
  if (tokens.length >= PAIR_SHIFT || options.vocabSize >= PAIR_SHIFT) throw new RangeError(`trainBPE: vocabSize must be below ${PAIR_SHIFT}`);

  // 3. pair counts and where each pair occurs
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  const addPairs = (w: number, sign: number) => {
    const sym = words[w]!;
    const f = freqs[w]! * sign;
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i]! * PAIR_SHIFT + sym[i + 1]!;
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) {
        let list = where.get(key);
        if (!list) where.set(key, (list = []));
        if (list[list.length - 1] !== w) list.push(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addPairs(w, +1);
  const heap = new CountHeap();
  for (const [key, c] of pairCount) if (c >= minFrequency) heap.push(c, key);

  // 4. merge until full
  const merges: Array<[string, string]> = [];
  const scores: number[] = tokens.map(() => 0);
  while (tokens.length < options.vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const [count, key] = top;
    const current = pairCount.get(key) ?? 0;
    if (current !== count) {
      // stale: counts changed since this entry was pushed; re-queue with the true count
      if (current >= minFrequency) heap.push(current, key);
      continue;
    }
    const a = Math.floor(key / PAIR_SHIFT);
    const b = key - a * PAIR_SHIFT;
    const merged = tokens[a]! + tokens[b]!;
    const newId = idOf.get(merged) ?? addToken(merged, TokenType.NORMAL);
    merges.push([tokens[a]!, tokens[b]!]);
    scores[newId] = -merges.length;
    const touched = where.get(key) ?? [];
    where.delete(key);
    const changedPairs = new Set<number>();
    for (const w of touched) {
      const sym = words[w]!;
      let has = false;
      for (let i = 0; i + 1 < sym.length; i++) if (sym[i] === a && sym[i + 1] === b) has = true;
      if (!has) continue; // stale entry
      addPairs(w, -1);
      for (let i = 0; i + 1 < sym.length; i++) changedPairs.add(sym[i]! * PAIR_SHIFT + sym[i + 1]!);
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(newId);
          i++;
        } else next.push(sym[i]!);
      }
      words[w] = Int32Array.from(next);
      addPairs(w, +1);
      for (let i = 0; i + 1 < next.length; i++) changedPairs.add(next[i]! * PAIR_SHIFT + next[i + 1]!);
    }
    pairCount.delete(key);
    for (const k of changedPairs) {
      const c = pairCount.get(k) ?? 0;
      if (c <= 0) {
        pairCount.delete(k);
        where.delete(k);
      } else if (c >= minFrequency && k !== key) heap.push(c, k);
    }
  }
  while (scores.length < tokens.length) scores.push(0);

  const special = specialIdsFor(specials);
  if (byteLevel) {
    const vocab = new Vocab(tokens, types);
    const model = new ByteLevelBPE(vocab, { merges, preTokenizer: pre });
    return { tokenizer: new VocabTokenizer(vocab, model, { special }), merges };
  }
  const vocab = new Vocab(tokens, types, scores);
  const model = new SentencePieceBPE(vocab, { addSpacePrefix: true, unkId: special.unk });
  return { tokenizer: new VocabTokenizer(vocab, model, { special, addBos: special.bos !== undefined }), merges };
}
