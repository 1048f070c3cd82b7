/**
 * JSON Schema → grammar → constrained sampling on a real (tiny) model: every generation must parse
 * and validate with ajv (an independent validator), across 10 schemas × 20 sampled generations.
 * Malformed and unsupported schemas fail with errors that name the problem.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../../ts/generate/index.js';
import { GrammarRunner, SchemaError, jsonSchemaToGrammar, parseGBNF } from '../../ts/grammar/index.js';
import { storiesDir } from '../formats/helpers.js';

const stories = join(storiesDir, 'stories260K-f32.gguf');
// ajv ships CommonJS: its class is the module's default export, or the module itself
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

/** Schemas whose languages are finite (bounded strings, arrays, numbers), so every generation ends. */
export const SCHEMAS: Record<string, Record<string, unknown>> = {
  person: {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 16 }, age: { type: 'integer', minimum: 0 }, student: { type: 'boolean' } },
    required: ['name', 'age'],
    additionalProperties: false,
  },
  colour: { enum: ['red', 'green', 'blue', 42, null] },
  numbers: { type: 'array', items: { type: 'integer' }, minItems: 1, maxItems: 5 },
  refs: {
    $defs: { point: { type: 'object', properties: { x: { type: 'number' }, y: { type: 'number' } }, required: ['x', 'y'] } },
    type: 'object',
    properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' }, label: { type: 'string', maxLength: 8 } },
    required: ['from', 'to'],
  },
  nullable: { type: 'object', properties: { v: { type: ['string', 'null'], maxLength: 6 }, k: { const: 'fixed' } }, required: ['v', 'k'] },
  anyOf: { anyOf: [{ type: 'number' }, { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] }] },
  pattern: { type: 'object', properties: { code: { type: 'string', pattern: '^[A-Z]{3}-[0-9]{2,4}$' } }, required: ['code'] },
  formats: { type: 'object', properties: { day: { type: 'string', format: 'date' }, id: { type: 'string', format: 'uuid' } }, required: ['day', 'id'] },
  tuple: { type: 'array', prefixItems: [{ type: 'string', maxLength: 5 }, { type: 'integer' }, { type: 'boolean' }], items: false },
  optional: {
    type: 'object',
    properties: { a: { type: 'integer' }, b: { type: 'string', maxLength: 4 }, c: { type: 'array', items: { enum: ['x', 'y'] }, maxItems: 3 } },
    additionalProperties: false,
  },
};

describe('JSON Schema → grammar', () => {
  it('the grammar accepts exactly the JSON the schema describes (spot checks)', () => {
    const g = (s: unknown) => new GrammarRunner(parseGBNF(jsonSchemaToGrammar(s)));
    const person = g(SCHEMAS.person);
    expect(person.matches('{"name": "Al", "age": 3}')).toBe(true);
    expect(person.matches('{"name":"Al","age":3,"student":true}')).toBe(true);
    expect(person.matches('{"age": 3, "name": "Al"}')).toBe(false); // properties in schema order
    expect(person.matches('{"name": "Al"}')).toBe(false); // age is required
    expect(person.matches('{"name": "Al", "age": -3}')).toBe(false); // minimum 0
    expect(person.matches('{"name": "", "age": 3}')).toBe(false); // minLength 1
    expect(person.matches('{"name": "Al", "age": 3, "x": 1}')).toBe(false);
    const opt = g(SCHEMAS.optional);
    for (const ok of ['{}', '{"a": 1}', '{"b": "q"}', '{"a": 1, "c": ["x"]}', '{"a":1,"b":"","c":[]}']) expect(opt.matches(ok), ok).toBe(true);
    for (const bad of ['{,"a": 1}', '{"a": 1,}', '{"c": [], "a": 1}', '{"c": ["z"]}']) expect(opt.matches(bad), bad).toBe(false);
    const pat = g(SCHEMAS.pattern);
    expect(pat.matches('{"code": "ABC-123"}')).toBe(true);
    expect(pat.matches('{"code": "AB-123"}')).toBe(false);
    const extra = g({ type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: { type: 'boolean' } });
    expect(extra.matches('{"a": 1, "b": true}')).toBe(true);
    expect(extra.matches('{"a": 1, "a": true}')).toBe(false); // an extra key may not repeat a listed one
    expect(extra.matches('{"a": 1, "ab": true}')).toBe(true);
    const tree = g({ $defs: { node: { type: 'object', properties: { kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' });
    expect(tree.matches('{"kids": [{"kids": []}, {}]}')).toBe(true);
  });

  it('malformed and unsupported schemas are refused, naming what is wrong', () => {
    const err = (s: unknown): SchemaError => {
      try {
        jsonSchemaToGrammar(s);
      } catch (e) {
        if (e instanceof SchemaError) return e;
        throw e;
      }
      throw new Error('no error');
    };
    expect(err({ type: 'strin' }).message).toMatch(/at #\/type: unknown type "strin"/);
    expect(err({ type: 'object', properties: { a: { type: 'array', minItems: -1 } } }).message).toMatch(/#\/properties\/a\/minItems/);
    expect(err({ $ref: '#/$defs/missing' }).message).toMatch(/does not exist/);
    const u = err({ type: 'object', properties: { n: { type: 'number', minimum: 5 }, s: { type: 'string' } }, patternProperties: {}, not: {} });
    expect(u.unsupported).toEqual(expect.arrayContaining(['minimum', 'patternProperties', 'not']));
    expect(u.message).toMatch(/minimum \(at #\/properties\/n\)/);
    expect(err({ type: 'string', pattern: '^(?=a)b$' }).message).toMatch(/lookaround/);
    expect(err({ required: ['x'], properties: {} }).message).toMatch(/required property 'x'/);
  });
});

describe.skipIf(!existsSync(stories))(`constrained generation on stories260K ${existsSync(stories) ? '' : '(skipped: ../shared/models/stories260K is absent)'}`, () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(stories, { worker: false, threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('200 sampled generations across 10 schemas all parse and validate (ajv)', async () => {
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    const formatOk = (v: { day: string; id: string }) =>
      /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(v.day) && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v.id);
    let n = 0;
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      const validate = ajv.compile(schema);
      for (let i = 0; i < 20; i++) {
        const r = await model.generate(i % 2 ? 'Once upon a time' : 'Lily said', { jsonSchema: schema, temperature: 1, seed: 1000 * n + i, maxTokens: 400 });
        let value: unknown;
        expect(() => (value = JSON.parse(r.text)), `${name} #${i}: ${r.text}`).not.toThrow();
        expect(validate(value), `${name} #${i}: ${r.text} ${JSON.stringify(validate.errors)}`).toBe(true);
        if (name === 'formats') expect(formatOk(value as { day: string; id: string }), r.text).toBe(true);
        expect(r.finishReason).toBe('stop');
      }
      n++;
    }
  }, 120_000);

  it('grammar, json_object mode and greedy decoding', async () => {
    const g = await model.generate('Once upon a time', { grammar: 'root ::= ("yes" | "no") " " [a-z]{2,5} "."', temperature: 0, maxTokens: 20 });
    expect(g.text).toMatch(/^(yes|no) [a-z]{2,5}\.$/);
    const o = await model.generate('Once upon a time', { jsonObject: true, temperature: 0.7, seed: 1, maxTokens: 60 });
    expect(o.text.startsWith('{')).toBe(true);
    await expect(model.generate('x', { grammar: 'root ::= "a' })).rejects.toThrow(/line 1, column 12: unterminated string literal/);
    await expect(model.generate('x', { jsonSchema: { type: 'number', multipleOf: 2 } })).rejects.toThrow(/multipleOf/);
  });
});
