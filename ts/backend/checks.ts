/**
 * Argument checks shared by the JS backend and the TS wrappers, mirroring native/binding/check.h:
 * wrong kinds throw TypeError, wrong sizes RangeError, and the message names the argument.
 */

type TypedArrayCtor = { new (n: number): ArrayBufferView; name: string };

export function expectArray(name: string, value: unknown, kind: TypedArrayCtor): void {
  if (!(value instanceof (kind as unknown as new () => object))) {
    const got = ArrayBuffer.isView(value) ? value.constructor.name : value === null ? 'null' : typeof value;
    throw new TypeError(`tensorloom: ${name} must be a ${kind.name}, got ${got}`);
  }
  const buf = (value as ArrayBufferView).buffer as ArrayBuffer & { detached?: boolean };
  // As the native backend does (native/binding/check.h): another thread could write shared memory mid-kernel.
  if (Object.prototype.toString.call(buf) === '[object SharedArrayBuffer]') {
    throw new TypeError(`tensorloom: ${name} is backed by a SharedArrayBuffer; tensorloom's kernels take typed arrays over an ordinary ArrayBuffer (copy it first)`);
  }
  // `detached` exists from Node 22; before, only a detached buffer refuses a new view.
  if (buf.detached === true || (buf.byteLength === 0 && isDetached(buf))) {
    throw new TypeError(`tensorloom: ${name} has a detached ArrayBuffer`);
  }
}

function isDetached(buf: ArrayBuffer): boolean {
  try {
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

export function expectLength(name: string, value: ArrayLike<unknown>, expected: number, shape?: string): void {
  if (value.length !== expected) {
    throw new RangeError(
      `tensorloom: ${name} has ${value.length} elements, expected ${expected}${shape ? ` (shape ${shape})` : ''}`,
    );
  }
}

/** An integer in [min, max]. */
export function expectDim(name: string, value: unknown, min = 1, max = 2 ** 40): number {
  if (typeof value !== 'number') throw new TypeError(`tensorloom: ${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value)) throw new RangeError(`tensorloom: ${name} must be an integer, got ${value}`);
  if (value < min || value > max) throw new RangeError(`tensorloom: ${name} must be in [${min}, ${max}], got ${value}`);
  return value;
}
