/**
 * JSON Schema → GBNF, so constrained sampling produces JSON that validates. The primitives follow
 * llama.cpp's json-schema-to-grammar (bounded whitespace and number lengths, so a small model
 * cannot wander forever): strings with minLength/maxLength and `pattern` (a regex subset), numbers,
 * integers (minimum 0 or 1), booleans, null, `enum`, `const`, objects with `properties` in order
 * (required ones always, optional ones may be left out), `additionalProperties`, arrays with
 * `items` / `prefixItems` / `minItems` / `maxItems`, `anyOf` / `oneOf`, local `$ref` into
 * `$defs` / `definitions` (recursion allowed), `format` date / time / date-time / uuid.
 * Anything that constrains values in a way the grammar would not enforce is refused with a
 * SchemaError naming it (never silently ignored).
 */
import { SchemaError } from './errors.js';

type Schema = Record<string, unknown> | boolean;

/** Keywords that only annotate; they never change which values are valid. */
const ANNOTATIONS = new Set([
  'title', 'description', 'default', 'examples', '$schema', '$id', '$comment', 'deprecated', 'readOnly', 'writeOnly',
  '$anchor', 'contentMediaType', 'strict', 'additionalItems',
]);

/** Keywords we understand (handled below). */
const HANDLED = new Set([
  'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'prefixItems', 'minItems', 'maxItems',
  'minLength', 'maxLength', 'pattern', 'format', 'anyOf', 'oneOf', 'allOf', '$ref', '$defs', 'definitions', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum',
]);

const PRIMITIVES: Record<string, string> = {
  space: '| " " | "\\n" [ \\t]{0,20}',
  boolean: '("true" | "false") space',
  null: '"null" space',
  'integral-part': '[0] | [1-9] [0-9]{0,15}',
  'decimal-part': '[0-9]{1,16}',
  integer: '("-"? integral-part) space',
  number: '("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space',
  char: '[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\bfnrt] | "u" [0-9a-fA-F]{4})',
  string: '"\\"" char* "\\"" space',
  value: 'object | array | string | number | boolean | null',
  object: '"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space',
  array: '"[" space ( value ("," space value)* )? "]" space',
};
/** Which primitives each needs. */
const DEPS: Record<string, string[]> = {
  boolean: ['space'], null: ['space'], integer: ['integral-part', 'space'], number: ['integral-part', 'decimal-part', 'space'],
  string: ['char', 'space'], value: ['object', 'array', 'string', 'number', 'boolean', 'null'], object: ['string', 'value', 'space'],
  array: ['value', 'space'],
};
const FORMATS: Record<string, string> = {
  date: '[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )',
  time: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )',
  uuid: '[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}',
};

export interface SchemaToGrammarOptions {
  /** Allow `minimum`/`maximum` style keywords the grammar cannot enforce (they are then not enforced). Default false. */
  ignoreUnsupported?: boolean;
}

class Converter {
  private readonly rules = new Map<string, string>();
  private readonly refRules = new Map<string, string>();
  private readonly unsupported = new Map<string, string>(); // keyword → first path

  constructor(
    private readonly root: Schema,
    private readonly options: SchemaToGrammarOptions,
  ) {}

  convert(): string {
    const body = this.visit(this.root, '#', 'root');
    if (this.unsupported.size > 0 && !this.options.ignoreUnsupported) {
      const list = [...this.unsupported].map(([k, p]) => `${k} (at ${p})`);
      throw new SchemaError(`the JSON schema uses features that constrained output cannot enforce: ${list.join(', ')}`, [...this.unsupported.values()][0]!, [...this.unsupported.keys()]);
    }
    this.rules.set('root', body);
    const out: string[] = [`root ::= ${body}`];
    for (const [name, rule] of this.rules) if (name !== 'root') out.push(`${name} ::= ${rule}`);
    return out.join('\n') + '\n';
  }

  private use(primitive: string): string {
    if (!this.rules.has(primitive)) {
      this.rules.set(primitive, PRIMITIVES[primitive]!);
      for (const d of DEPS[primitive] ?? []) this.use(d);
    }
    return primitive;
  }

  private add(base: string, body: string): string {
    const clean = base.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'r';
    let name = clean;
    for (let i = 1; this.rules.has(name) && this.rules.get(name) !== body; i++) name = `${clean}-${i}`;
    this.rules.set(name, body);
    return name;
  }

  private fail(path: string, what: string): never {
    throw new SchemaError(`invalid JSON schema at ${path}: ${what}`, path);
  }

  /** The GBNF expression for values of `schema`. */
  private visit(schema: unknown, path: string, name: string): string {
    if (schema === true || (typeof schema === 'object' && schema !== null && !Array.isArray(schema) && Object.keys(schema).every((k) => ANNOTATIONS.has(k)))) {
      return this.use('value');
    }
    if (schema === false) this.fail(path, 'the schema `false` accepts no value');
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) this.fail(path, `a schema must be an object or a boolean, got ${Array.isArray(schema) ? 'an array' : typeof schema}`);
    const s = schema as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!HANDLED.has(k) && !ANNOTATIONS.has(k) && !k.startsWith('x-')) this.unsupported.set(k, path);
    }
    if (s.$ref !== undefined) return this.ref(s.$ref, path);
    if (s.const !== undefined) return `${literal(JSON.stringify(s.const))} ${this.use('space')}`;
    if (s.enum !== undefined) {
      if (!Array.isArray(s.enum) || s.enum.length === 0) this.fail(`${path}/enum`, 'enum must be a non-empty array');
      return `(${s.enum.map((v) => literal(JSON.stringify(v))).join(' | ')}) ${this.use('space')}`;
    }
    for (const k of ['anyOf', 'oneOf'] as const) {
      if (s[k] !== undefined) {
        if (!Array.isArray(s[k]) || (s[k] as unknown[]).length === 0) this.fail(`${path}/${k}`, `${k} must be a non-empty array`);
        const alts = (s[k] as unknown[]).map((sub, i) => this.ruleFor(sub, `${path}/${k}/${i}`, `${name}-${i}`));
        return alts.length === 1 ? alts[0]! : `(${alts.join(' | ')})`;
      }
    }
    if (s.allOf !== undefined) {
      if (!Array.isArray(s.allOf) || s.allOf.length !== 1) this.unsupported.set('allOf (with more than one schema)', path);
      else return this.visit(s.allOf[0], `${path}/allOf/0`, name);
    }
    let type = s.type;
    if (type === undefined) {
      if (s.properties !== undefined || s.additionalProperties !== undefined || s.required !== undefined) type = 'object';
      else if (s.items !== undefined || s.prefixItems !== undefined || s.minItems !== undefined || s.maxItems !== undefined) type = 'array';
      else if (s.minLength !== undefined || s.maxLength !== undefined || s.pattern !== undefined || s.format !== undefined) type = 'string';
      else return this.use('value');
    }
    if (Array.isArray(type)) {
      if (type.length === 0) this.fail(`${path}/type`, 'type must not be an empty array');
      const alts = type.map((t, i) => this.ruleFor({ ...s, type: t }, path, `${name}-${String(t)}-${i}`));
      return alts.length === 1 ? alts[0]! : `(${alts.join(' | ')})`;
    }
    switch (type) {
      case 'string':
        return this.string(s, path, name);
      case 'integer':
        return this.integer(s, path);
      case 'number':
        for (const k of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']) if (s[k] !== undefined) this.unsupported.set(k, path);
        return this.use('number');
      case 'boolean':
        return this.use('boolean');
      case 'null':
        return this.use('null');
      case 'object':
        return this.object(s, path, name);
      case 'array':
        return this.array(s, path, name);
      default:
        this.fail(`${path}/type`, `unknown type ${JSON.stringify(type)} (expected string, number, integer, boolean, null, object or array)`);
    }
  }

  /** A named rule for a subschema (keeps alternatives and repetitions readable and shareable). */
  private ruleFor(schema: unknown, path: string, name: string): string {
    const body = this.visit(schema, path, name);
    if (/^[a-zA-Z0-9-]+$/.test(body)) return body;
    return this.add(name, body);
  }

  private ref(ref: unknown, path: string): string {
    if (typeof ref !== 'string') this.fail(`${path}/$ref`, '$ref must be a string');
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    if (!m && ref !== '#') {
      this.unsupported.set(`$ref ${JSON.stringify(ref)} (only local #/$defs/… and #/definitions/… references)`, path);
      return this.use('value');
    }
    const existing = this.refRules.get(ref);
    if (existing) return existing;
    let target: unknown = this.root;
    if (m) {
      const defs = typeof this.root === 'object' ? (this.root as Record<string, unknown>)[m[1]!] : undefined;
      const key = m[2]!.replace(/~1/g, '/').replace(/~0/g, '~');
      target = typeof defs === 'object' && defs !== null ? (defs as Record<string, unknown>)[key] : undefined;
      if (target === undefined) this.fail(`${path}/$ref`, `${ref} does not exist in the schema`);
    }
    const name = this.add(m ? `ref-${m[2]}` : 'ref-root', '""'); // reserve first: the target may refer back to itself
    this.refRules.set(ref, name);
    this.rules.set(name, this.visit(target, ref, name));
    return name;
  }

  private string(s: Record<string, unknown>, path: string, name: string): string {
    const space = this.use('space');
    if (s.format !== undefined && typeof s.format === 'string' && (s.format in FORMATS || s.format === 'date-time')) {
      if (s.format === 'date-time') {
        const d = this.add('date', FORMATS.date!);
        const t = this.add('time', FORMATS.time!);
        return `"\\"" ${d} "T" ${t} "\\"" ${space}`;
      }
      return `"\\"" ${this.add(s.format, FORMATS[s.format]!)} "\\"" ${space}`;
    }
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== 'string') this.fail(`${path}/pattern`, 'pattern must be a string');
      if (s.minLength !== undefined || s.maxLength !== undefined) this.unsupported.set('minLength/maxLength together with pattern', path);
      const body = patternToGrammar(s.pattern, `${path}/pattern`, () => this.use('char'));
      return `"\\"" ${this.add(`${name}-pattern`, body)} "\\"" ${space}`;
    }
    const min = nonNegInt(s.minLength, `${path}/minLength`) ?? 0;
    const max = nonNegInt(s.maxLength, `${path}/maxLength`);
    if (max !== undefined && max < min) this.fail(path, `maxLength ${max} is below minLength ${min}`);
    if (min === 0 && max === undefined) return this.use('string');
    const char = this.use('char');
    return `"\\"" ${char}{${min},${max ?? ''}} "\\"" ${space}`;
  }

  private integer(s: Record<string, unknown>, path: string): string {
    const min = s.minimum;
    const bounded = ['maximum', 'exclusiveMinimum', 'exclusiveMaximum'].filter((k) => s[k] !== undefined);
    for (const k of bounded) this.unsupported.set(k, path);
    if (min === undefined) return this.use('integer');
    if (min === 0) return `(${this.use('integral-part')}) ${this.use('space')}`;
    if (min === 1) return `[1-9] [0-9]{0,15} ${this.use('space')}`;
    this.unsupported.set(`minimum ${String(min)} (only 0 and 1 are enforced)`, path);
    return this.use('integer');
  }

  private object(s: Record<string, unknown>, path: string, name: string): string {
    const space = this.use('space');
    const props = s.properties ?? {};
    if (typeof props !== 'object' || props === null || Array.isArray(props)) this.fail(`${path}/properties`, 'properties must be an object');
    const required = s.required ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) this.fail(`${path}/required`, 'required must be an array of property names');
    const names = Object.keys(props);
    for (const r of required as string[]) if (!names.includes(r)) this.fail(`${path}/required`, `required property '${r}' is not among the properties`);
    const additional = s.additionalProperties;
    if (names.length === 0 && additional === undefined) return this.use('object');

    const kvs = names.map((p) => {
      const value = this.ruleFor((props as Record<string, unknown>)[p], `${path}/properties/${pointer(p)}`, `${name}-${p}`);
      return this.add(`${name}-${p}-kv`, `${literal(JSON.stringify(p))} ${space} ":" ${space} ${value}`);
    });
    const isReq = names.map((p) => (required as string[]).includes(p));
    let extra: string | null = null;
    if (additional !== undefined && additional !== false) {
      const value = additional === true ? this.use('value') : this.ruleFor(additional, `${path}/additionalProperties`, `${name}-additional`);
      const key = names.length > 0 ? this.add(`${name}-additional-key`, notStrings(names)) : this.use('string');
      if (names.length > 0) this.use('char');
      extra = this.add(`${name}-additional-kv`, `${key} ":" ${space} ${value}`);
    }
    // first(i): properties i.. when none was written yet; after(i): each further one starts with a comma.
    const extraAfter = extra ? ` ("," ${space} ${extra})*` : '';
    const after = (i: number): string =>
      kvs.slice(i).map((kv, j) => (isReq[i + j] ? `"," ${space} ${kv}` : `("," ${space} ${kv})?`)).join(' ') + extraAfter;
    let first = extra ? `(${extra}${extraAfter})?` : '';
    for (let i = names.length - 1; i >= 0; i--) {
      const take = `${kvs[i]} ${after(i + 1)}`.trim();
      first = isReq[i] ? take : first ? this.add(`${name}-from-${i}`, `${take} | ${first}`) : `(${take})?`;
    }
    return `"{" ${space} ${first} "}" ${space}`;
  }

  private array(s: Record<string, unknown>, path: string, name: string): string {
    const space = this.use('space');
    const min = nonNegInt(s.minItems, `${path}/minItems`) ?? 0;
    const max = nonNegInt(s.maxItems, `${path}/maxItems`);
    if (max !== undefined && max < min) this.fail(path, `maxItems ${max} is below minItems ${min}`);
    if (s.prefixItems !== undefined) {
      if (!Array.isArray(s.prefixItems)) this.fail(`${path}/prefixItems`, 'prefixItems must be an array');
      if (s.items !== undefined && s.items !== false) this.unsupported.set('items after prefixItems', path);
      const items = s.prefixItems.map((x, i) => this.ruleFor(x, `${path}/prefixItems/${i}`, `${name}-${i}`));
      return `"[" ${space} ${items.join(` "," ${space} `)} "]" ${space}`;
    }
    const item = this.ruleFor(s.items ?? true, `${path}/items`, `${name}-item`);
    if (max === 0) return `"[" ${space} "]" ${space}`;
    const rest = `("," ${space} ${item})`;
    const more = max === undefined ? `${rest}{${Math.max(min - 1, 0)},}` : `${rest}{${Math.max(min - 1, 0)},${max - 1}}`;
    const list = `${item} ${more}`;
    return `"[" ${space} ${min === 0 ? `(${list})?` : list} "]" ${space}`;
  }
}

function nonNegInt(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SchemaError(`invalid JSON schema at ${path}: expected a non-negative integer, got ${JSON.stringify(v)}`, path);
  if (v > 1000) throw new SchemaError(`JSON schema at ${path}: ${v} is above the supported bound of 1000`, path, [path.split('/').pop()!]);
  return v;
}

function pointer(p: string): string {
  return p.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A GBNF literal for `text`. */
export function literal(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** A JSON string (quotes included) that is none of `names` (object keys beyond the listed ones). */
function notStrings(names: readonly string[]): string {
  // A trie of the names; at each node: leave the trie with a char that continues no name, or go on.
  type Node = { kids: Map<string, Node>; end: boolean };
  const root: Node = { kids: new Map(), end: false };
  for (const n of names) {
    let node = root;
    for (const ch of JSON.stringify(n).slice(1, -1)) {
      let k = node.kids.get(ch);
      if (!k) node.kids.set(ch, (k = { kids: new Map(), end: false }));
      node = k;
    }
    node.end = true;
  }
  const visit = (node: Node): string => {
    const alts: string[] = [];
    for (const [ch, k] of node.kids) alts.push(`${literal(ch)} ${visit(k)}`);
    const escaped = [...node.kids.keys()].map((c) => (c === ']' || c === '\\' || c === '[' || c === '-' ? '\\' + c : c)).join('');
    // leave: any JSON char other than the continuations, then anything, then the closing quote
    alts.push(`[^"\\\\\\x7F\\x00-\\x1F${escaped}] char* "\\""`);
    if (!node.end) alts.push('"\\""');
    return `(${alts.join(' | ')})`;
  };
  const body = visit(root);
  // the empty key "" is a name only if listed; the root alternative '"' handles it
  return `"\\"" ${body} space`;
}

/**
 * A regex (the subset llama.cpp converts: literals, escapes \d \w \s, classes, groups, |, * + ? {m,n}, .)
 * → GBNF for the text between the JSON quotes. Anchors ^ $ are implied; without them any text may surround a match.
 */
function patternToGrammar(pattern: string, path: string, useChar: () => string): string {
  let i = 0;
  const p = pattern;
  const bad = (what: string): never => {
    throw new SchemaError(`JSON schema pattern at ${path}: ${what} at offset ${i} of ${JSON.stringify(p)}`, path, [`pattern ${what}`]);
  };
  const charLit = (c: string): string => (c === '"' ? '"\\\\\\""' : c === '\\' ? '"\\\\\\\\"' : literal(c));
  const classEsc = (c: string): string => (c === ']' || c === '\\' || c === '[' || c === '-' || c === '^' ? '\\' + c : c === '\n' ? '\\n' : c === '\t' ? '\\t' : c);
  const shorthand = (c: string): string | null =>
    c === 'd' ? '[0-9]' : c === 'w' ? '[a-zA-Z0-9_]' : c === 's' ? '[ \\t]' : c === 'D' ? '[^0-9"\\\\\\x00-\\x1F]' : c === 'W' ? '[^a-zA-Z0-9_"\\\\\\x00-\\x1F]' : null;
  const alternation = (): string => {
    const alts = [sequence()];
    while (p[i] === '|') {
      i++;
      alts.push(sequence());
    }
    return alts.length === 1 ? alts[0]! : `(${alts.join(' | ')})`;
  };
  const sequence = (): string => {
    const items: string[] = [];
    while (i < p.length && p[i] !== '|' && p[i] !== ')') {
      let atom = '';
      const c = p[i]!;
      if (c === '^' && i === 0) {
        i++;
        continue;
      }
      if (c === '$' && i === p.length - 1) {
        i++;
        continue;
      }
      if (c === '(') {
        i++;
        if (p[i] === '?') {
          if (p[i + 1] === ':') i += 2;
          else bad('lookaround or named groups are not supported');
        }
        atom = alternation();
        if (p[i] !== ')') bad("missing ')'");
        i++;
        atom = `(${atom})`;
      } else if (c === '[') {
        const start = i;
        i++;
        let neg = false;
        if (p[i] === '^') {
          neg = true;
          i++;
        }
        let body = '';
        while (i < p.length && p[i] !== ']') {
          if (p[i] === '\\') {
            const e = p[i + 1] ?? bad('unfinished escape');
            const sh = e === 'd' ? '0-9' : e === 'w' ? 'a-zA-Z0-9_' : e === 's' ? ' \\t' : null;
            body += sh ?? classEsc(e === 'n' ? '\n' : e === 't' ? '\t' : e);
            i += 2;
          } else {
            body += p[i] === '-' ? '-' : classEsc(p[i]!);
            i++;
          }
        }
        if (p[i] !== ']') {
          i = start;
          bad("unterminated character class");
        }
        i++;
        atom = neg ? `[^${body}"\\\\\\x00-\\x1F]` : `[${body}]`;
      } else if (c === '.') {
        i++;
        atom = useChar();
      } else if (c === '\\') {
        const e = p[i + 1] ?? bad('unfinished escape');
        i += 2;
        if (/[1-9]/.test(e)) bad('back-references are not supported');
        if (e === 'b' || e === 'B') bad('word boundaries are not supported');
        atom = shorthand(e) ?? charLit(e === 'n' ? '\n' : e === 't' ? '\t' : e);
      } else if ('*+?{'.includes(c)) {
        bad('a quantifier with nothing before it');
      } else {
        i++;
        atom = charLit(c);
      }
      // quantifier
      const q = p[i];
      if (q === '*' || q === '+' || q === '?') {
        i++;
        if (p[i] === '?' || p[i] === '+') i++; // lazy/possessive: same language
        atom = `${atom}${q}`;
      } else if (q === '{') {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
        if (!m) bad("malformed {m,n}");
        i += m![0].length;
        atom = `${atom}{${m![1]}${m![2] !== undefined ? `,${m![3]}` : ''}}`;
      }
      items.push(atom);
    }
    return items.length === 0 ? '""' : items.join(' ');
  };
  const anchoredStart = p.startsWith('^');
  const anchoredEnd = p.endsWith('$') && !p.endsWith('\\$');
  const body = alternation();
  if (i < p.length) bad("unbalanced ')'");
  const any = `${useChar()}*`;
  return `${anchoredStart ? '' : any + ' '}${body}${anchoredEnd ? '' : ' ' + any}`;
}

/** GBNF for JSON values valid under `schema`; a SchemaError names what is malformed or unsupported. */
export function jsonSchemaToGrammar(schema: unknown, options: SchemaToGrammarOptions = {}): string {
  return new Converter(schema as Schema, options).convert();
}

/** `response_format: { type: 'json_object' }`: any JSON object. */
export function jsonObjectGrammar(): string {
  return jsonSchemaToGrammar({ type: 'object' });
}
