/**
 * GBNF, llama.cpp's grammar format, parsed into a flat program the matcher runs:
 *
 *   root  ::= "yes" | "no" ws item+      # rules, alternates, sequences, comments
 *   item  ::= [a-z0-9_-]{1,8} | [^\n"]   # char classes (ranges, negation), repetition * + ? {m} {m,} {m,n}
 *   ws    ::= ([ \t\n] ws)? "\x41\u00e9" # grouping, literals with escapes, `.` = any character
 *
 * Syntax facts follow llama.cpp's parser (names are [a-zA-Z0-9-]; a rule ends at a newline
 * except inside parentheses or after `|`; repetition is rewritten into helper rules the same way).
 * Token references (`<[id]>`, `<|tok|>`) are not supported. Left recursion is an error.
 */
import { GrammarError } from './errors.js';

/** Element kinds in the program. */
export const END = 0;
export const CHAR = 1;
export const REF = 2;

/** A character class: sorted [lo, hi] pairs (inclusive), possibly negated. */
export interface CharSet {
  readonly ranges: Uint32Array;
  readonly negated: boolean;
}

export function charSetHas(set: CharSet, cp: number): boolean {
  const r = set.ranges;
  let inside = false;
  for (let i = 0; i < r.length; i += 2) {
    if (cp >= r[i]! && cp <= r[i + 1]!) {
      inside = true;
      break;
    }
  }
  return inside !== set.negated;
}

/** Whether some code point in [lo, hi] is in the set. */
export function charSetIntersects(set: CharSet, lo: number, hi: number): boolean {
  const r = set.ranges;
  if (!set.negated) {
    for (let i = 0; i < r.length; i += 2) if (r[i]! <= hi && r[i + 1]! >= lo) return true;
    return false;
  }
  // negated, ranges merged (normalizeRanges): [lo, hi] is excluded only if one range covers it
  for (let i = 0; i < r.length; i += 2) if (r[i]! <= lo && r[i + 1]! >= hi) return false;
  return true;
}

/** Sorted, with overlapping and adjacent ranges merged (what charSetIntersects relies on). */
function normalizeRanges(ranges: number[]): Uint32Array {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [a, b] of pairs) {
    const n = out.length;
    if (n > 0 && a <= out[n - 1]! + 1) out[n - 1] = Math.max(out[n - 1]!, b);
    else out.push(a, b);
  }
  return Uint32Array.from(out);
}

/**
 * The compiled grammar. Each alternative of each rule is a run of positions in `kind`/`arg`
 * ending with END; a CHAR position's arg indexes `charsets`, a REF position's arg is a rule id.
 */
export class Grammar {
  constructor(
    readonly kind: Uint8Array,
    readonly arg: Int32Array,
    readonly charsets: readonly CharSet[],
    /** Rule id → start positions of its alternatives. */
    readonly alts: readonly (readonly number[])[],
    readonly ruleNames: readonly string[],
    readonly root: number,
    /** The GBNF text it was parsed from. */
    readonly source: string,
  ) {}
}

type Elem = { t: 'char'; set: CharSet } | { t: 'ref'; rule: number };
type Seq = Elem[];

/** Helper rules one repetition may create; llama.cpp's limit is of the same order. */
const MAX_REPETITION = 2000;

class Parser {
  private pos = 0;
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly rules: (Seq[] | undefined)[] = [];
  /** Where each rule name was first referenced, for "undefined rule" errors. */
  private readonly firstUse = new Map<number, number>();

  constructor(private readonly src: string) {}

  fail(what: string, at = this.pos): never {
    throw GrammarError.at(this.src, at, what);
  }

  parse(): Grammar {
    this.space(true);
    if (this.pos >= this.src.length) this.fail('the grammar is empty: it needs at least a root rule');
    while (this.pos < this.src.length) this.rule();
    for (let id = 0; id < this.names.length; id++) {
      if (!this.rules[id]) this.fail(`undefined rule '${this.names[id]}'`, this.firstUse.get(id) ?? 0);
    }
    const root = this.ids.get('root');
    if (root === undefined) this.fail("the grammar has no 'root' rule", 0);
    checkLeftRecursion(this.rules as Seq[][], this.names, (m) => this.fail(m, 0));
    return flatten(this.rules as Seq[][], this.names, root, this.src);
  }

  private symbol(name: string, at: number): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(name, id);
      this.names.push(name);
      this.rules.push(undefined);
      this.firstUse.set(id, at);
    }
    return id;
  }

  private generated(base: string): number {
    const id = this.names.length;
    this.names.push(`${base}_${id}`);
    this.rules.push(undefined);
    return id;
  }

  private space(newlineOk: boolean): void {
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === ' ' || c === '\t' || (newlineOk && (c === '\r' || c === '\n'))) this.pos++;
      else if (c === '#') while (this.pos < s.length && s[this.pos] !== '\r' && s[this.pos] !== '\n') this.pos++;
      else break;
    }
  }

  private name(): string {
    const start = this.pos;
    while (this.pos < this.src.length && /[a-zA-Z0-9-]/.test(this.src[this.pos]!)) this.pos++;
    if (this.pos === start) this.fail('expected a rule name (letters, digits, -)');
    return this.src.slice(start, this.pos);
  }

  private rule(): void {
    const at = this.pos;
    const name = this.name();
    const id = this.symbol(name, at);
    this.space(false);
    if (!this.src.startsWith('::=', this.pos)) this.fail(`expected '::=' after the rule name '${name}'`);
    if (this.rules[id]) this.fail(`rule '${name}' is defined twice`, at);
    this.pos += 3;
    this.space(true);
    this.rules[id] = this.alternates(name, false);
    const c = this.src[this.pos];
    if (c === '\r') this.pos += this.src[this.pos + 1] === '\n' ? 2 : 1;
    else if (c === '\n') this.pos++;
    else if (c !== undefined) this.fail(c === ')' ? "unbalanced ')'" : `unexpected '${c}': expected a newline or the end of the rule`);
    this.space(true);
  }

  private alternates(name: string, nested: boolean): Seq[] {
    const alts: Seq[] = [this.sequence(name, nested)];
    while (this.src[this.pos] === '|') {
      this.pos++;
      this.space(true);
      alts.push(this.sequence(name, nested));
    }
    return alts;
  }

  private sequence(name: string, nested: boolean): Seq {
    const seq: Seq = [];
    let lastStart = -1; // start of the last item in seq, for repetition operators
    const s = this.src;
    while (this.pos < s.length) {
      const c = s[this.pos]!;
      if (c === '"') {
        this.pos++;
        lastStart = seq.length;
        while (s[this.pos] !== '"') {
          if (this.pos >= s.length) this.fail('unterminated string literal');
          const cp = this.char();
          seq.push({ t: 'char', set: { ranges: Uint32Array.of(cp, cp), negated: false } });
        }
        this.pos++;
        // An empty literal "" is an empty item: nothing to repeat.
        if (lastStart === seq.length) lastStart = -1;
      } else if (c === '[') {
        const open = this.pos;
        this.pos++;
        let negated = false;
        if (s[this.pos] === '^') {
          negated = true;
          this.pos++;
        }
        const ranges: number[] = [];
        while (s[this.pos] !== ']') {
          if (this.pos >= s.length) this.fail("unterminated character class (missing ']')", open);
          const lo = this.char();
          let hi = lo;
          if (s[this.pos] === '-' && s[this.pos + 1] !== ']') {
            this.pos++;
            if (this.pos >= s.length) this.fail("unterminated character class (missing ']')", open);
            const at = this.pos;
            hi = this.char();
            if (hi < lo) this.fail(`character range is backwards (${fmt(lo)}-${fmt(hi)})`, at);
          }
          ranges.push(lo, hi);
        }
        this.pos++;
        lastStart = seq.length;
        seq.push({ t: 'char', set: { ranges: normalizeRanges(ranges), negated } });
      } else if (c === '.') {
        this.pos++;
        lastStart = seq.length;
        seq.push({ t: 'char', set: { ranges: new Uint32Array(0), negated: true } });
      } else if (/[a-zA-Z0-9-]/.test(c)) {
        const at = this.pos;
        const ref = this.name();
        lastStart = seq.length;
        seq.push({ t: 'ref', rule: this.symbol(ref, at) });
      } else if (c === '(') {
        this.pos++;
        this.space(true);
        const id = this.generated(name);
        this.rules[id] = this.alternates(name, true);
        if (s[this.pos] !== ')') this.fail("expected ')' to close the group");
        this.pos++;
        lastStart = seq.length;
        seq.push({ t: 'ref', rule: id });
      } else if (c === '*' || c === '+' || c === '?') {
        this.pos++;
        this.repeat(seq, lastStart, c === '+' ? 1 : 0, c === '?' ? 1 : Infinity, name);
      } else if (c === '{') {
        const at = this.pos;
        this.pos++;
        this.space(nested);
        const min = this.int();
        this.space(nested);
        let max = min;
        if (s[this.pos] === ',') {
          this.pos++;
          this.space(nested);
          max = /[0-9]/.test(s[this.pos] ?? '') ? this.int() : Infinity;
          this.space(nested);
        }
        if (s[this.pos] !== '}') this.fail("expected '}' to close the repetition");
        this.pos++;
        if (max < min) this.fail(`repetition {${min},${max}} has its maximum below its minimum`, at);
        if (min > MAX_REPETITION || (max !== Infinity && max > MAX_REPETITION)) this.fail(`repetition count above ${MAX_REPETITION}`, at);
        this.repeat(seq, lastStart, min, max, name);
      } else if (c === '<' || c === '!') {
        this.fail('token references (<…>) are not supported; write the text as a literal');
      } else break;
      this.space(nested);
    }
    return seq;
  }

  /** S{min,max} → S×min then (max−min) nested optional copies, or a loop when max is ∞ (llama.cpp's rewrite). */
  private repeat(seq: Seq, lastStart: number, min: number, max: number, name: string): void {
    if (lastStart < 0) this.fail('a repetition operator (*, +, ?, {…}) needs an item before it', this.pos - 1);
    const item = seq.splice(lastStart);
    for (let i = 0; i < min; i++) seq.push(...item);
    if (max === Infinity) {
      const loop = this.generated(name);
      this.rules[loop] = [[...item, { t: 'ref', rule: loop }], []];
      seq.push({ t: 'ref', rule: loop });
    } else if (max > min) {
      let tail = -1;
      for (let i = 0; i < max - min; i++) {
        const id = this.generated(name);
        this.rules[id] = [tail < 0 ? [...item] : [...item, { t: 'ref', rule: tail }], []];
        tail = id;
      }
      seq.push({ t: 'ref', rule: tail });
    }
  }

  private int(): number {
    const start = this.pos;
    while (/[0-9]/.test(this.src[this.pos] ?? '')) this.pos++;
    if (this.pos === start) this.fail('expected an integer');
    return Number(this.src.slice(start, this.pos));
  }

  /** One character of a literal or class, with escapes; returns its code point. */
  private char(): number {
    const s = this.src;
    const at = this.pos;
    if (s[at] === '\\') {
      const e = s[at + 1];
      const hex = (n: number): number => {
        const h = s.slice(at + 2, at + 2 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail(`expected ${n} hex digits after \\${e}`, at);
        this.pos = at + 2 + n;
        const v = parseInt(h, 16);
        if (v > 0x10ffff) this.fail(`code point ${h} is beyond U+10FFFF`, at);
        return v;
      };
      switch (e) {
        case 'x': return hex(2);
        case 'u': return hex(4);
        case 'U': return hex(8);
        case 't': this.pos += 2; return 9;
        case 'r': this.pos += 2; return 13;
        case 'n': this.pos += 2; return 10;
        case '\\': case '"': case '[': case ']': case '-':
          this.pos += 2;
          return e.charCodeAt(0);
        default:
          this.fail(e === undefined ? 'unfinished escape at the end' : `unknown escape '\\${e}'`, at);
      }
    }
    const cp = s.codePointAt(at)!;
    this.pos += cp > 0xffff ? 2 : 1;
    return cp;
  }
}

function fmt(cp: number): string {
  return cp >= 0x20 && cp < 0x7f ? String.fromCharCode(cp) : `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** A rule that would call itself before consuming a character loops forever: refuse it. */
function checkLeftRecursion(rules: Seq[][], names: string[], fail: (msg: string) => never): void {
  const n = rules.length;
  const nullable = new Uint8Array(n);
  for (let changed = true; changed; ) {
    changed = false;
    for (let r = 0; r < n; r++) {
      if (nullable[r]) continue;
      if (rules[r]!.some((alt) => alt.every((e) => e.t === 'ref' && nullable[e.rule]))) {
        nullable[r] = 1;
        changed = true;
      }
    }
  }
  const firsts: number[][] = rules.map((alts) => {
    const out: number[] = [];
    for (const alt of alts) {
      for (const e of alt) {
        if (e.t !== 'ref') break;
        out.push(e.rule);
        if (!nullable[e.rule]) break;
      }
    }
    return out;
  });
  const state = new Uint8Array(n); // 0 new, 1 on the path, 2 done
  const visit = (r: number, path: number[]): void => {
    if (state[r] === 2) return;
    if (state[r] === 1) {
      const cycle = path.slice(path.indexOf(r)).map((i) => names[i]!.replace(/_\d+$/, ''));
      fail(`left recursion: rule '${cycle[0]}' can reach itself without consuming input (${[...cycle, cycle[0]].join(' → ')})`);
    }
    state[r] = 1;
    path.push(r);
    for (const f of firsts[r]!) visit(f, path);
    path.pop();
    state[r] = 2;
  };
  for (let r = 0; r < n; r++) visit(r, []);
}

function flatten(rules: Seq[][], names: string[], root: number, source: string): Grammar {
  const kind: number[] = [];
  const arg: number[] = [];
  const charsets: CharSet[] = [];
  const setIndex = new Map<string, number>();
  const alts: number[][] = [];
  for (const r of rules) {
    const starts: number[] = [];
    for (const alt of r) {
      starts.push(kind.length);
      for (const e of alt) {
        if (e.t === 'ref') {
          kind.push(REF);
          arg.push(e.rule);
        } else {
          const key = `${e.set.negated ? '^' : ''}${Array.from(e.set.ranges).join(',')}`;
          let i = setIndex.get(key);
          if (i === undefined) {
            i = charsets.length;
            charsets.push(e.set);
            setIndex.set(key, i);
          }
          kind.push(CHAR);
          arg.push(i);
        }
      }
      kind.push(END);
      arg.push(0);
    }
    alts.push(starts);
  }
  return new Grammar(Uint8Array.from(kind), Int32Array.from(arg), charsets, alts, names, root, source);
}

/** Parses GBNF text; a GrammarError says where it is malformed. */
export function parseGBNF(source: string): Grammar {
  if (typeof source !== 'string') throw new TypeError('tensorloom: a grammar must be a GBNF string');
  return new Parser(source).parse();
}
