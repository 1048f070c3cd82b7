/**
 * Constrained sampling: which tokens the grammar allows next.
 *
 * `TokenTrie` holds every token's decoded bytes in a byte trie, built once per vocabulary. The mask
 * of a grammar state is one walk of the trie: a branch is followed only while the grammar accepts
 * its characters, so shared prefixes are checked once and rejected subtrees are never entered.
 * Masks are memoised on the (interned) state, so a state that recurs costs nothing the next time.
 * UTF-8 sequences split across tokens are followed byte by byte, as llama.cpp does.
 *
 * `GrammarConstraint` is one generation's cursor: `allows(id)` checks a single token (the sampler
 * tries the unconstrained choice first and masks only when it is rejected — exact for sampling,
 * and most steps never pay for a mask), `apply(logits)` masks, `accept(id)` advances.
 */
import type { Grammar } from './gbnf.js';
import { GrammarRunner, type StackSet } from './matcher.js';

/** A token's decoded bytes: flat[offsets[i] .. offsets[i+1]); `special[i]` = 1 for control tokens. */
export interface TokenTable {
  readonly flat: Uint8Array;
  readonly offsets: Uint32Array;
  readonly special: Uint8Array;
}

export class TokenTrie {
  readonly vocabSize: number;
  /** Per node: its children as a run in childByte/childNode [childStart[n], childStart[n+1]). */
  readonly childStart: Int32Array;
  readonly childByte: Uint8Array;
  readonly childNode: Int32Array;
  /** Per node: the tokens whose bytes end there, as a run in tokenList [tokenStart[n], tokenStart[n+1]). */
  readonly tokenStart: Int32Array;
  readonly tokenList: Int32Array;

  constructor(readonly table: TokenTable) {
    const { flat, offsets, special } = table;
    const n = offsets.length - 1;
    this.vocabSize = n;
    // Tokens sorted by their bytes: each one shares a prefix (a path) with the one before, so the
    // trie is built in one pass, its nodes numbered depth-first with children in byte order.
    const ids: number[] = [];
    for (let id = 0; id < n; id++) if (offsets[id + 1]! > offsets[id]! && special[id] !== 1) ids.push(id); // control tokens never match text
    const cmp = (x: number, y: number): number => {
      let i = offsets[x]!;
      let j = offsets[y]!;
      const ie = offsets[x + 1]!;
      const je = offsets[y + 1]!;
      for (; i < ie && j < je; i++, j++) if (flat[i] !== flat[j]) return flat[i]! - flat[j]!;
      return ie - i - (je - j) || x - y;
    };
    ids.sort(cmp);
    const parent: number[] = [-1];
    const byte: number[] = [0];
    const endAt = new Int32Array(ids.length);
    const path: number[] = [0]; // path[d] = node at depth d for the previous token
    let prev = -1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[k]!;
      const a = offsets[id]!;
      const len = offsets[id + 1]! - a;
      let lcp = 0;
      if (prev >= 0) {
        const pa = offsets[prev]!;
        const plen = offsets[prev + 1]! - pa;
        while (lcp < len && lcp < plen && flat[a + lcp] === flat[pa + lcp]) lcp++;
      }
      path.length = lcp + 1;
      for (let d = lcp; d < len; d++) {
        const node = parent.length;
        parent.push(path[d]!);
        byte.push(flat[a + d]!);
        path.push(node);
      }
      endAt[k] = path[len]!;
      prev = id;
    }
    const nodes = parent.length;
    const childCount = new Int32Array(nodes + 1);
    for (let i = 1; i < nodes; i++) childCount[parent[i]!]!++;
    this.childStart = new Int32Array(nodes + 1);
    for (let i = 0; i < nodes; i++) this.childStart[i + 1] = this.childStart[i]! + childCount[i]!;
    this.childByte = new Uint8Array(nodes);
    this.childNode = new Int32Array(nodes);
    const fill = this.childStart.slice(0, nodes);
    for (let i = 1; i < nodes; i++) {
      const p = parent[i]!;
      const at = fill[p]!++;
      this.childByte[at] = byte[i]!;
      this.childNode[at] = i; // depth-first creation keeps siblings in byte order
    }
    const tokenCount = new Int32Array(nodes + 1);
    for (let k = 0; k < ids.length; k++) tokenCount[endAt[k]!]!++;
    this.tokenStart = new Int32Array(nodes + 1);
    for (let i = 0; i < nodes; i++) this.tokenStart[i + 1] = this.tokenStart[i]! + tokenCount[i]!;
    this.tokenList = new Int32Array(ids.length);
    const tfill = this.tokenStart.slice(0, nodes);
    for (let k = 0; k < ids.length; k++) this.tokenList[tfill[endAt[k]!]!++] = ids[k]!;
  }
}

const tries = new WeakMap<TokenTable, TokenTrie>();

/** The trie of a vocabulary, built on first use and kept while the table lives. */
export function tokenTrie(table: TokenTable): TokenTrie {
  let t = tries.get(table);
  if (!t) {
    t = new TokenTrie(table);
    tries.set(table, t);
  }
  return t;
}

/** An unfinished UTF-8 sequence carried from one token to the next: its bits so far and how many bytes are missing. */
interface Partial {
  value: number;
  missing: number;
  /** Smallest code point the sequence's length may encode (longer encodings are overlong, invalid). */
  min: number;
}

/** Whether an unfinished sequence (bits `v`, `missing` bytes to go, at least `min`) can still become a character `set` accepts. */
function partialViable(runner: GrammarRunner, set: StackSet, v: number, missing: number, min: number): boolean {
  const lo = Math.max(v * 2 ** (6 * missing), min);
  const hi = Math.min((v + 1) * 2 ** (6 * missing) - 1, 0x10ffff);
  return lo <= hi && runner.acceptsSomeOf(set, lo, hi);
}

/** One byte of UTF-8 decoding: the new (value, missing, min), -1 in missing for an invalid byte; `cp` is set when a character completes. */
function utf8Step(b: number, value: number, missing: number, min: number, out: { value: number; missing: number; min: number; cp: number }): void {
  out.cp = -1;
  if (missing === 0) {
    if (b < 0x80) {
      out.value = 0, out.missing = 0, out.min = 0, out.cp = b;
    } else if ((b & 0xe0) === 0xc0) {
      out.value = b & 0x1f, out.missing = 1, out.min = 0x80;
    } else if ((b & 0xf0) === 0xe0) {
      out.value = b & 0x0f, out.missing = 2, out.min = 0x800;
    } else if ((b & 0xf8) === 0xf0) {
      out.value = b & 0x07, out.missing = 3, out.min = 0x10000;
    } else out.missing = -1; // a stray continuation byte, or 0xF8+
    return;
  }
  if ((b & 0xc0) !== 0x80) {
    out.missing = -1;
    return;
  }
  const v = (value << 6) | (b & 0x3f);
  if (missing === 1) {
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) out.missing = -1;
    else out.value = 0, out.missing = 0, out.min = 0, out.cp = v;
  } else {
    out.value = v, out.missing = missing - 1, out.min = min;
  }
}

/** A grammar compiled for one vocabulary; reusable across generations (states and masks are shared). */
export class CompiledGrammar {
  readonly runner: GrammarRunner;
  /** Masks that may still be memoised on states (bounds the memory of a long-lived grammar). */
  maskBudget = 4096;
  constructor(
    readonly grammar: Grammar,
    readonly trie: TokenTrie,
  ) {
    this.runner = new GrammarRunner(grammar);
  }

  /** A fresh cursor at the start of the grammar; `endIds` are the tokens that end generation. */
  start(endIds: readonly number[]): GrammarConstraint {
    return new GrammarConstraint(this, endIds);
  }
}

export class GrammarConstraint {
  private state: StackSet;
  private partial: Partial = { value: 0, missing: 0, min: 0 };
  private readonly dec = { value: 0, missing: 0, min: 0, cp: -1 };
  private readonly ends: Set<number>;
  private readonly scratch: Uint32Array;

  constructor(
    private readonly compiled: CompiledGrammar,
    endIds: readonly number[],
  ) {
    this.state = compiled.runner.initial;
    this.ends = new Set(endIds);
    this.scratch = new Uint32Array((compiled.trie.vocabSize + 31) >>> 5);
  }

  /** The text so far is a complete match (an end token is allowed). */
  get complete(): boolean {
    return this.state.complete && this.partial.missing === 0;
  }

  /** Nothing more can follow: generation should end here. */
  get finished(): boolean {
    return this.state.finished && this.partial.missing === 0;
  }

  /** Whether token `id` may come next. */
  allows(id: number): boolean {
    if (this.ends.has(id)) return this.complete;
    return this.advance(id) !== null;
  }

  /** Moves past `text` as if it had been generated (a forced prefix); throws when the grammar rejects it. */
  acceptText(text: string): void {
    if (this.partial.missing > 0) throw new Error('tensorloom: acceptText in the middle of a UTF-8 sequence');
    const r = this.compiled.runner.run(this.state, text);
    if (r === null) throw new Error(`tensorloom: the grammar rejects ${JSON.stringify(text)} here`);
    this.state = r;
  }

  /** Moves past token `id` (which must be allowed). */
  accept(id: number): void {
    if (this.ends.has(id)) return;
    const r = this.advance(id);
    if (r === null) throw new Error(`tensorloom: token ${id} does not fit the grammar here`);
    this.state = r.state;
    this.partial = r.partial;
  }

  /** Sets the logits of every token the grammar rejects to -Infinity. */
  apply(logits: Float32Array): void {
    const mask = this.mask();
    const V = Math.min(logits.length, this.compiled.trie.vocabSize);
    for (let w = 0; w < mask.length; w++) {
      const bits = mask[w]!;
      if (bits === 0xffffffff) continue;
      const base = w << 5;
      for (let b = 0; b < 32; b++) {
        const i = base + b;
        if (i >= V) break;
        if ((bits & (1 << b)) === 0) logits[i] = -Infinity;
      }
    }
    for (let i = V; i < logits.length; i++) logits[i] = -Infinity;
  }

  /** Bit i set = token i allowed. Memoised on the state when no UTF-8 sequence is pending. */
  mask(): Uint32Array {
    const st = this.state;
    const cacheable = this.partial.missing === 0;
    if (cacheable && st.mask) return st.mask;
    const m = cacheable && this.compiled.maskBudget > 0 ? new Uint32Array(this.scratch.length) : this.scratch.fill(0);
    this.walk(0, st, this.partial.value, this.partial.missing, this.partial.min, m);
    if (this.complete) for (const e of this.ends) if (e < this.compiled.trie.vocabSize) m[e >>> 5]! |= 1 << (e & 31);
    // Memoise while the grammar's masks stay within budget (a state is ~vocab/8 bytes).
    if (cacheable && this.compiled.maskBudget > 0) {
      st.mask = m;
      this.compiled.maskBudget--;
    }
    return m;
  }

  private walk(node: number, set: StackSet, value: number, missing: number, min: number, m: Uint32Array): void {
    const trie = this.compiled.trie;
    const runner = this.compiled.runner;
    const d = this.dec;
    const end = trie.childStart[node + 1]!;
    for (let k = trie.childStart[node]!; k < end; k++) {
      const b = trie.childByte[k]!;
      let next: StackSet | null;
      let v = 0;
      let miss = 0;
      let mn = 0;
      if (missing === 0 && b < 0x80) {
        // ASCII, the common case: one memoised transition
        const hit = set.ascii[b];
        next = hit === undefined ? runner.step(set, b) : hit;
      } else {
        utf8Step(b, value, missing, min, d);
        if (d.missing < 0) continue;
        (v = d.value), (miss = d.missing), (mn = d.min);
        next = d.cp >= 0 ? runner.step(set, d.cp) : set;
      }
      if (next === null) continue;
      if (miss > 0 && !partialViable(runner, set, v, miss, mn)) continue;
      const child = trie.childNode[k]!;
      const tEnd = trie.tokenStart[child + 1]!;
      for (let t = trie.tokenStart[child]!; t < tEnd; t++) {
        const id = trie.tokenList[t]!;
        m[id >>> 5]! |= 1 << (id & 31);
      }
      this.walk(child, next, v, miss, mn, m);
    }
  }

  private advance(id: number): { state: StackSet; partial: Partial } | null {
    const { table } = this.compiled.trie;
    if (id < 0 || id >= this.compiled.trie.vocabSize) return null;
    const a = table.offsets[id]!;
    const b = table.offsets[id + 1]!;
    if (a === b || table.special[id] === 1) return null;
    const runner = this.compiled.runner;
    const d = this.dec;
    let set: StackSet | null = this.state;
    let { value, missing, min } = this.partial;
    for (let i = a; i < b; i++) {
      utf8Step(table.flat[i]!, value, missing, min, d);
      if (d.missing < 0) return null;
      (value = d.value), (missing = d.missing), (min = d.min);
      if (d.cp >= 0) set = runner.step(set, d.cp);
      if (set === null) return null;
      if (missing > 0 && !partialViable(runner, set, value, missing, min)) return null;
    }
    return { state: set, partial: { value, missing, min } };
  }
}
