/**
 * Running a grammar over text, as llama.cpp does: the state is a set of stacks (one per way the
 * input so far can be parsed); each stack's top is the character class expected next, its lower
 * entries are where to continue in the enclosing rules. A character moves every stack whose top
 * accepts it; stacks that cannot are dropped; an empty stack means the input is a complete match.
 *
 * Stacks are interned linked lists and stack sets are interned too, so a state that recurs
 * (inside a JSON string, between list items) is the same object, with its transitions and its
 * token mask (token-mask.ts) memoised on it.
 */
import { CHAR, END, REF, charSetHas, charSetIntersects, type Grammar } from './gbnf.js';

/** One stack: its top position and the rest (null = bottom). Interned: equal stacks are identical. */
interface StackNode {
  readonly id: number;
  readonly pos: number;
  readonly next: StackNode | null;
}

/** A parser state (interned). */
export class StackSet {
  /** Transitions by code point (null: the character is rejected); ASCII in an array, the rest in a map. */
  readonly ascii: (StackSet | null | undefined)[] = new Array(128);
  readonly next = new Map<number, StackSet | null>();
  /** Transitions by which stacks accept the character (bit i = stacks[i]): characters that no class tells apart share one. */
  readonly bySignature = new Map<number, StackSet | null>();
  /** Token mask cache slot (token-mask.ts). */
  mask: Uint32Array | null = null;
  constructor(
    readonly id: number,
    /** Stacks whose top is a CHAR position. */
    readonly stacks: readonly StackNode[],
    /** The input so far is a complete match. */
    readonly complete: boolean,
  ) {}

  /** Nothing can follow: only the end of the text is allowed. */
  get finished(): boolean {
    return this.stacks.length === 0;
  }
}

/** Bounds the interning tables of a long-lived grammar (states are rebuilt after a reset). */
const MAX_STATES = 200_000;

export class GrammarRunner {
  private readonly nodes = new Map<string, StackNode>();
  private readonly sets = new Map<string, StackSet>();
  private nodeCount = 0;
  private setCount = 0;
  readonly initial: StackSet;

  constructor(readonly grammar: Grammar) {
    const out = new Set<StackNode | null>();
    for (const a of grammar.alts[grammar.root]!) this.expand(grammar.kind[a] === END ? null : this.node(a, null), out, 0);
    this.initial = this.intern(out)!;
  }

  /** The state after `cp`, or null when no stack accepts it. */
  step(set: StackSet, cp: number): StackSet | null {
    const hit = cp < 128 ? set.ascii[cp] : set.next.get(cp);
    if (hit !== undefined) return hit;
    const { kind, arg, charsets } = this.grammar;
    const stacks = set.stacks;
    // The result depends only on which stacks accept cp: compute that signature, then memoise by it.
    let sig = -1;
    if (stacks.length <= 30) {
      sig = 0;
      for (let i = 0; i < stacks.length; i++) if (charSetHas(charsets[arg[stacks[i]!.pos]!]!, cp)) sig |= 1 << i;
      const bySig = set.bySignature.get(sig);
      if (bySig !== undefined) {
        if (cp < 128) set.ascii[cp] = bySig;
        return bySig;
      }
    }
    if (this.nodes.size > MAX_STATES) this.clearCaches();
    const out = new Set<StackNode | null>();
    for (const s of stacks) {
      if (!charSetHas(charsets[arg[s.pos]!]!, cp)) continue;
      const p = s.pos + 1;
      this.expand(kind[p] === END ? s.next : this.node(p, s.next), out, 0);
    }
    const r = this.intern(out);
    if (sig >= 0) set.bySignature.set(sig, r);
    if (cp < 128) set.ascii[cp] = r;
    else if (sig < 0) set.next.set(cp, r);
    return r;
  }

  /** Whether some code point in [lo, hi] (an unfinished UTF-8 sequence) could be accepted next. */
  acceptsSomeOf(set: StackSet, lo: number, hi: number): boolean {
    const { arg, charsets } = this.grammar;
    for (const s of set.stacks) if (charSetIntersects(charsets[arg[s.pos]!]!, lo, hi)) return true;
    return false;
  }

  /** Runs a whole string from `set` (null when rejected). */
  run(set: StackSet, text: string): StackSet | null {
    let cur: StackSet | null = set;
    for (const ch of text) {
      cur = this.step(cur, ch.codePointAt(0)!);
      if (cur === null) return null;
    }
    return cur;
  }

  /** Whether the grammar matches `text` exactly (a complete match). */
  matches(text: string): boolean {
    const end = this.run(this.initial, text);
    return end !== null && end.complete;
  }

  private node(pos: number, next: StackNode | null): StackNode {
    const key = `${pos},${next ? next.id : -1}`;
    let n = this.nodes.get(key);
    if (!n) {
      n = { id: this.nodeCount++, pos, next };
      this.nodes.set(key, n);
    }
    return n;
  }

  /** Adds to `out` every stack reachable from `s` whose top is a character class (or the empty stack). */
  private expand(s: StackNode | null, out: Set<StackNode | null>, depth: number): void {
    if (depth > 10_000) throw new RangeError('tensorloom: the grammar nests too deeply');
    if (s === null) {
      out.add(null);
      return;
    }
    const { kind, arg, alts } = this.grammar;
    const k = kind[s.pos];
    if (k === CHAR) {
      out.add(s);
      return;
    }
    if (k === END) {
      this.expand(s.next, out, depth + 1);
      return;
    }
    if (k === REF) {
      const after = s.pos + 1;
      const rest = kind[after] === END ? s.next : this.node(after, s.next);
      for (const a of alts[arg[s.pos]!]!) this.expand(kind[a] === END ? rest : this.node(a, rest), out, depth + 1);
    }
  }

  private intern(out: Set<StackNode | null>): StackSet | null {
    let complete = false;
    const stacks: StackNode[] = [];
    for (const s of out) {
      if (s === null) complete = true;
      else stacks.push(s);
    }
    if (!complete && stacks.length === 0) return null;
    stacks.sort((a, b) => a.id - b.id);
    const key = `${complete ? 1 : 0}:${stacks.map((s) => s.id).join(',')}`;
    let set = this.sets.get(key);
    if (!set) {
      set = new StackSet(this.setCount++, stacks, complete);
      this.sets.set(key, set);
    }
    return set;
  }

  private clearCaches(): void {
    // Existing StackSets stay valid (they hold their own nodes); only the interning restarts.
    this.nodes.clear();
    this.sets.clear();
  }
}
