/**
 * The GBNF engine against the grammars that ship with llama.cpp (node-llama-cpp's llama/grammars):
 * each parses, and accepts / rejects strings as llama.cpp's grammar semantics say (complete
 * matches only). Malformed grammars fail with a position.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GrammarError, GrammarRunner, parseGBNF } from '../../ts/grammar/index.js';
import { repoRoot } from '../formats/helpers.js';

const dir = join(repoRoot, 'bench/peers/node_modules/node-llama-cpp/llama/grammars');
const have = existsSync(dir);

const cases: Record<string, { accept: string[]; reject: string[] }> = {
  'arithmetic.gbnf': {
    accept: ['1+2= 3\n', 'x*(y-2)= z\n', 'a1_b/4=\tq\n1=1\n', '(1+2)*3= 9\n'],
    reject: ['1+2=3', '1++2= 3\n', '= 3\n', 'X= 1\n', '1+2= 3\n4'],
  },
  'chess.gbnf': {
    accept: ['1. e4 e5\n2. Nf3 Nc6\n', '1. d4 d5\n2. c4 dxc4\n3. e8=Q+ O-O-O\n', '1. e4 e5\n12. Qxf7# Kxf7\n'],
    reject: ['1. e4 e5\n', '1. e9 e5\n2. a1 a2\n', '2. e4 e5\n3. d4 d5\n', '1. e4 e5\n2. Zf3 Nc6\n', '1. e4 e5\n0. d4 d5\n'],
  },
  'english.gbnf': {
    accept: ['Hello, world!', 'a b\tc\nd', '[x]\\y'],
    reject: ['', ' leading', 'two  spaces', 'naïve', 'end '],
  },
  'japanese.gbnf': {
    accept: ['こんにちは', 'カタカナ 漢字、', 'ひらがな\nカナ'],
    reject: ['hello', 'こんにちは ', '', 'こん にちは!'],
  },
  'list.gbnf': {
    accept: ['- a\n', '- milk\n- eggs and ham\n'],
    reject: ['- \n', '- a', '* a\n', '- a\n-b\n', '- a\u2028b\n'],
  },
  'json.gbnf': {
    accept: ['{}', '{"a": 1}', '{"a": [1, 2.5, -3e15, "x", true, false, null], "b": {"c": "\\u00e9\\n"}}', '{ "k" : "v" }\n'],
    // json.gbnf's exponent is [0-9] [1-9]{0,15}: "e10" is outside it (a quirk of the shipped grammar)
    reject: ['[]', '{"a": 01}', '{"a": 1e10}', '{"a": 1,}', '{a: 1}', '{"a": "\u0001"}', '{"a": tru}', '{"a": "x"'],
  },
  'json_arr.gbnf': {
    accept: ['[\n]', '[\n1,\n{"a": "b"}]', '[\n"x",\n[1, 2]]', '[\n"x",\n\n\t[]]'],
    reject: ['[]', '[\n1, 2]', '[\n"x",\n  [1]]', '{}', '[\n1,\n]'],
  },
  'c.gbnf': {
    // c.gbnf allows whitespace only where it says ws (mandatory there): compact C
    accept: ['int main(){return 0;}', 'float f(int x){if(x<2){return x;}while(x!=0){x = x-1;}}', 'int a(){}char b(){// hi\n}', ''],
    reject: ['int main() {return 0;}', 'main(){}', 'int 2x(){}', 'int main(){return 0}'],
  },
};

describe.skipIf(!have)(`llama.cpp's example grammars ${have ? '' : '(skipped: bench/peers is not installed)'}`, () => {
  it('every shipped grammar is covered here', () => {
    const files = require('node:fs').readdirSync(dir).filter((f: string) => f.endsWith('.gbnf')).sort();
    expect(files).toEqual(Object.keys(cases).sort());
  });
  for (const [file, { accept, reject }] of Object.entries(cases)) {
    it(`${file}: parses, accepts and rejects`, () => {
      const g = new GrammarRunner(parseGBNF(readFileSync(join(dir, file), 'utf8')));
      for (const s of accept) expect(g.matches(s), `accepts ${JSON.stringify(s)}`).toBe(true);
      for (const s of reject) expect(g.matches(s), `rejects ${JSON.stringify(s)}`).toBe(false);
    });
  }
});

describe('GBNF syntax', () => {
  const m = (g: string, s: string): boolean => new GrammarRunner(parseGBNF(g)).matches(s);
  it('repetition {m}, {m,}, {m,n}, ?, *, + and grouping', () => {
    expect(m('root ::= "a"{3}', 'aaa')).toBe(true);
    expect(m('root ::= "a"{3}', 'aa')).toBe(false);
    expect(m('root ::= "ab"{2,}', 'ababab')).toBe(true);
    expect(m('root ::= "ab"{2,}', 'ab')).toBe(false);
    expect(m('root ::= [0-9]{1,3}', '123')).toBe(true);
    expect(m('root ::= [0-9]{1,3}', '1234')).toBe(false);
    expect(m('root ::= [0-9]{1,3}', '')).toBe(false);
    expect(m('root ::= ("x" | "yz")* "!"', 'xyzx!')).toBe(true);
    expect(m('root ::= ("x" | "yz")+ "!"', '!')).toBe(false);
    expect(m('root ::= "a"? "b"', 'b')).toBe(true);
    expect(m('root ::= (\n  "a" |\n  "b"\n)', 'b')).toBe(true);
  });
  it('char classes: ranges, negation, escapes, any, non-BMP', () => {
    expect(m('root ::= [^a-c\\n]+', 'xyz')).toBe(true);
    expect(m('root ::= [^a-c\\n]+', 'xbz')).toBe(false);
    expect(m('root ::= [\\x41-\\x43\\u00e9\\-]+', 'AB-éC')).toBe(true);
    expect(m('root ::= "\\U0001F600" .', '😀\n')).toBe(true);
    expect(m('root ::= [\\]\\[]', ']')).toBe(true);
    expect(m('root ::= "\\"q\\"\\t"', '"q"\t')).toBe(true);
  });
  it('recursion (right) is allowed; left recursion is refused', () => {
    expect(m('root ::= "(" root ")" | ""', '((()))')).toBe(true);
    expect(m('root ::= "(" root ")" | ""', '(()')).toBe(false);
    expect(() => parseGBNF('root ::= root "a" | "a"')).toThrow(/left recursion/);
    expect(() => parseGBNF('root ::= x\nx ::= y? root\ny ::= "a"')).toThrow(/left recursion/);
  });
  it('malformed grammars fail with their position', () => {
    const bad: [string, RegExp][] = [
      ['root ::= "abc', /line 1, column 14: unterminated string literal/],
      ['root ::= [a-', /unterminated character class/],
      ['root ::= foo', /line 1, column 10: undefined rule 'foo'/],
      ['root := "a"', /line 1, column 6: expected '::='/],
      ['root ::= ("a"', /expected '\)'/],
      ['root ::= "a"\nx ::= * "b"', /line 2, column 7: a repetition operator/],
      ['root ::= "a"{3,1}', /maximum below its minimum/],
      ['root ::= "\\q"', /line 1, column 11: unknown escape/],
      ['x ::= "a"', /no 'root' rule/],
      ['', /empty/],
      ['root ::= [z-a]', /backwards/],
      ['root ::= "a"\nroot ::= "b"', /defined twice/],
    ];
    for (const [g, re] of bad) {
      let err: unknown;
      try {
        parseGBNF(g);
      } catch (e) {
        err = e;
      }
      expect(err, g).toBeInstanceOf(GrammarError);
      expect((err as Error).message, g).toMatch(re);
    }
  });
});
