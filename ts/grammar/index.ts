/** Constrained sampling: GBNF grammars, JSON Schema → grammar, token masks. */
export { parseGBNF, Grammar, type CharSet } from './gbnf.js';
export { GrammarRunner, StackSet } from './matcher.js';
export { CompiledGrammar, GrammarConstraint, TokenTrie, tokenTrie, type TokenTable } from './token-mask.js';
export { jsonSchemaToGrammar, jsonObjectGrammar, type SchemaToGrammarOptions } from './json-schema.js';
export { GrammarError, SchemaError } from './errors.js';
export { compileGrammar, grammarFromOptions, type GrammarOptions } from './compile.js';
