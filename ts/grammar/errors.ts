/** Errors of the grammar engine: a GBNF text or a JSON Schema that cannot be used. */

/** A malformed GBNF grammar; `offset`, `line` and `column` (1-based) point at the problem. */
export class GrammarError extends Error {
  override name = 'GrammarError';
  constructor(
    message: string,
    readonly offset: number,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
  }

  static at(source: string, offset: number, what: string): GrammarError {
    let line = 1;
    let col = 1;
    for (let i = 0; i < offset && i < source.length; i++) {
      if (source[i] === '\n') {
        line++;
        col = 1;
      } else col++;
    }
    const snippet = source.slice(offset, offset + 24).replace(/\n/g, '\\n');
    return new GrammarError(`grammar error at line ${line}, column ${col}: ${what}${offset < source.length ? ` (at '${snippet}')` : ' (at the end)'}`, offset, line, col);
  }
}

/**
 * A JSON Schema that cannot become a grammar: malformed (`path` says where, as a JSON pointer) or
 * using features this converter does not support (`unsupported` names them).
 */
export class SchemaError extends Error {
  override name = 'SchemaError';
  constructor(
    message: string,
    readonly path: string,
    readonly unsupported: readonly string[] = [],
  ) {
    super(message);
  }
}
