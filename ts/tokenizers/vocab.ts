/**
 * A vocabulary: token strings, their kinds (llama.cpp/GGUF token types) and optional scores, with
 * the string → id index every algorithm needs. Checked once on construction so the algorithms can
 * trust it.
 */

/** Token kinds, numbered as GGUF's `tokenizer.ggml.token_type` (llama.cpp's llama_token_type). */
export const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  /** BOS/EOS/PAD and chat markers: never produced from plain text unless `parseSpecial` is set. */
  CONTROL: 3,
  /** Added tokens that are ordinary text (matched whole in the input, never split). */
  USER_DEFINED: 4,
  UNUSED: 5,
  /** `<0xNN>` byte-fallback tokens of SentencePiece vocabularies. */
  BYTE: 6,
} as const;
export type TokenTypeId = (typeof TokenType)[keyof typeof TokenType];

/** Thrown for vocabularies and tokenizer files that are malformed or inconsistent. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/** The well-known special ids (undefined when the vocabulary has none). */
export interface SpecialIds {
  bos?: number;
  eos?: number;
  unk?: number;
  pad?: number;
  sep?: number;
  cls?: number;
  mask?: number;
}

export class Vocab {
  readonly tokens: readonly string[];
  readonly types: Uint8Array;
  readonly scores: Float32Array | undefined;
  /**
   * token → id: open addressing over the token strings themselves (a slot holds id + 1, 0 when
   * empty). A Map<string, number> of Llama 3's 128k tokens held 3.5 MiB of hash table in every
   * model worker's heap; this holds 1 MiB.
   */
  private readonly slots: Int32Array;
  private readonly mask: number;

  /**
   * @param types GGUF token types per id (defaults to NORMAL); values outside 1..6 are an error.
   * Duplicate token strings are allowed (real vocabularies have a few): `id()` returns the lowest id.
   */
  constructor(tokens: readonly string[], types?: ArrayLike<number>, scores?: ArrayLike<number>) {
    const n = tokens.length;
    if (n === 0) throw new TokenizerError('vocabulary is empty');
    if (types && types.length !== n) throw new TokenizerError(`vocabulary has ${n} tokens but ${types.length} token types`);
    if (scores && scores.length !== n) throw new TokenizerError(`vocabulary has ${n} tokens but ${scores.length} scores`);
    this.tokens = tokens;
    this.types = new Uint8Array(n).fill(TokenType.NORMAL);
    if (types) {
      for (let i = 0; i < n; i++) {
        const t = types[i]!;
        if (!(t >= 1 && t <= 6)) throw new TokenizerError(`token ${i} (${JSON.stringify(tokens[i])}) has invalid token type ${t}`);
        this.types[i] = t;
      }
    }
    this.scores = scores ? Float32Array.from(scores) : undefined;
    let cap = 16;
    while (cap < 2 * n) cap *= 2;
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < n; i++) {
      const s = tokens[i];
      if (typeof s !== 'string') throw new TokenizerError(`token ${i} is not a string`);
      const slot = this.slotOf(s);
      if (this.slots[slot] === 0) this.slots[slot] = i + 1; // a duplicate keeps the lowest id
    }
  }

  /** The slot holding `token`, or the empty slot where it would go. */
  private slotOf(token: string): number {
    // FNV-1a over the UTF-16 units, then a final mix so that the low bits depend on every unit
    let h = 0x811c9dc5;
    for (let i = 0; i < token.length; i++) h = Math.imul(h ^ token.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h ^= h >>> 13;
    const { slots, tokens, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = slots[i]!;
      if (e === 0 || tokens[e - 1] === token) return i;
    }
  }

  get size(): number {
    return this.tokens.length;
  }

  id(token: string): number | undefined {
    if (typeof token !== 'string') return undefined; // (from JavaScript callers: no token)
    const e = this.slots[this.slotOf(token)]!;
    return e === 0 ? undefined : e - 1;
  }

  /** Throws a clear error when a special id from a file is out of range. */
  checkId(id: number | undefined, what: string): number | undefined {
    if (id === undefined || id === -1) return undefined;
    if (!Number.isInteger(id) || id < 0 || id >= this.tokens.length) {
      throw new TokenizerError(`${what} id ${id} is out of range for a vocabulary of ${this.tokens.length} tokens`);
    }
    return id;
  }

  isControl(id: number): boolean {
    return this.types[id] === TokenType.CONTROL;
  }
}
