/** From generation options to a grammar compiled for a vocabulary (cached: parsing and trie walks are paid once). */
import { parseGBNF } from './gbnf.js';
import { jsonObjectGrammar, jsonSchemaToGrammar } from './json-schema.js';
import { CompiledGrammar, tokenTrie, type TokenTable } from './token-mask.js';

export interface GrammarOptions {
  /** A GBNF grammar (llama.cpp's format) the output must match. */
  grammar?: string;
  /** A JSON Schema the output must validate against (`true` or `{}`: any JSON object… see jsonObject). */
  jsonSchema?: Readonly<Record<string, unknown>> | boolean;
  /** Output any JSON object (OpenAI's json_object mode). */
  jsonObject?: boolean;
}

/** The GBNF text the options ask for, or null. Throws GrammarError / SchemaError on bad input. */
export function grammarFromOptions(o: GrammarOptions): string | null {
  const given = [o.grammar !== undefined, o.jsonSchema !== undefined, o.jsonObject === true].filter(Boolean).length;
  if (given > 1) throw new TypeError('tensorloom: give at most one of grammar, jsonSchema and jsonObject');
  if (o.grammar !== undefined) {
    if (typeof o.grammar !== 'string') throw new TypeError('tensorloom: grammar must be a GBNF string');
    parseGBNF(o.grammar); // fail early, with the position
    return o.grammar;
  }
  if (o.jsonSchema !== undefined) return jsonSchemaToGrammar(o.jsonSchema);
  if (o.jsonObject) return jsonObjectGrammar();
  return null;
}

const cache = new WeakMap<TokenTable, Map<string, CompiledGrammar>>();

export function compileGrammar(gbnf: string, table: TokenTable): CompiledGrammar {
  let m = cache.get(table);
  if (!m) cache.set(table, (m = new Map()));
  let g = m.get(gbnf);
  if (g) {
    m.delete(gbnf); // most recently used last
  } else {
    g = new CompiledGrammar(parseGBNF(gbnf), tokenTrie(table));
    if (m.size >= 16) m.delete(m.keys().next().value!);
  }
  m.set(gbnf, g);
  return g;
}
