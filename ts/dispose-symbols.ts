/**
 * `Symbol.dispose` / `Symbol.asyncDispose` for `using` / `await using`: Node has them from 20.4
 * (and 18.18); the package supports Node ≥ 20, so on 20.0–20.3 they are defined here, once, the
 * way TypeScript's and esbuild's `using` helpers look them up. Every module that defines a
 * disposer imports this file first (for its side effect).
 */
const symbols = Symbol as unknown as { dispose?: symbol; asyncDispose?: symbol };
symbols.dispose ??= Symbol.for('Symbol.dispose');
symbols.asyncDispose ??= Symbol.for('Symbol.asyncDispose');

export {};
