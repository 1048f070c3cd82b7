/**
 * Errors across a worker boundary. postMessage keeps only the built-in Error types and drops a
 * class's own fields, so an error becomes a plain `WireError` on one side and the same class again
 * on the other: the closest class in the registry (by prototype chain), its message, name, stack,
 * own fields (code, offset, partial, …) and cause. The receiving side builds the error without
 * running the class's constructor (`Reflect.construct` on the built-in base with the class's
 * prototype), so any constructor signature works and `instanceof` holds.
 */

export interface WireError {
  /** Registry key of the error's class (its nearest registered ancestor); 'Error' when none. */
  kind: string;
  name: string;
  message: string;
  stack?: string;
  /** Own enumerable fields that survive structured clone (code, offset, partial, …). */
  fields?: Record<string, unknown>;
  /** An Error cause travels as a WireError, anything else as a cloned value. */
  cause?: { error: WireError } | { value: unknown };
}

type ErrorClass = abstract new (...args: never[]) => Error;

const BUILTINS: readonly ErrorConstructor[] = [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError];

export class ErrorRegistry {
  private readonly byKey = new Map<string, ErrorClass>();
  private readonly byProto = new Map<object, string>();

  constructor(classes: Readonly<Record<string, ErrorClass>>) {
    for (const C of BUILTINS) this.add(C.name, C);
    for (const [key, C] of Object.entries(classes)) this.add(key, C);
  }

  private add(key: string, C: ErrorClass): void {
    if (this.byKey.has(key)) throw new Error(`tensorloom: error class key '${key}' registered twice`);
    this.byKey.set(key, C);
    this.byProto.set(C.prototype, key);
  }

  /** The wire form of anything thrown (non-errors become an Error with their text). */
  toWire(err: unknown): WireError {
    if (!(err instanceof Error)) return { kind: 'Error', name: 'Error', message: String(err) };
    let kind = 'Error';
    for (let p = Object.getPrototypeOf(err) as object | null; p; p = Object.getPrototypeOf(p) as object | null) {
      const k = this.byProto.get(p);
      if (k !== undefined) {
        kind = k;
        break;
      }
    }
    const wire: WireError = { kind, name: err.name, message: err.message };
    if (typeof err.stack === 'string') wire.stack = err.stack;
    const fields: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(err)) {
      if (key === 'message' || key === 'stack' || key === 'cause') continue; // an own `name` (a class field) is a field
      const v = (err as unknown as Record<string, unknown>)[key];
      if (cloneable(v)) {
        fields[key] = v;
        any = true;
      }
    }
    if (any) wire.fields = fields;
    if ('cause' in err && err.cause !== undefined) {
      const c = err.cause;
      wire.cause = c instanceof Error ? { error: this.toWire(c) } : { value: cloneable(c) ? c : String(c) };
    }
    return wire;
  }

  /** The error again: an instance of the registered class, with the same message, name, fields, stack and cause. */
  fromWire(w: WireError): Error {
    const C = this.byKey.get(w.kind) ?? Error;
    const base = BUILTINS.find((B) => C === B || C.prototype instanceof B) ?? Error;
    const err = Reflect.construct(base, [w.message], C as unknown as new () => Error) as Error;
    if (w.fields) for (const [k, v] of Object.entries(w.fields)) define(err, k, v, true);
    if (err.name !== w.name) define(err, 'name', w.name, false);
    if (w.stack !== undefined) define(err, 'stack', w.stack, false);
    if (w.cause) define(err, 'cause', 'error' in w.cause ? this.fromWire(w.cause.error) : w.cause.value, false);
    return err;
  }
}

function define(o: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(o, key, { value, writable: true, enumerable, configurable: true });
}

function cloneable(v: unknown): boolean {
  if (v === null || typeof v !== 'object') return typeof v !== 'function' && typeof v !== 'symbol';
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}
