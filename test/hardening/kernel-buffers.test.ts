/**
 * Typed arrays over shared memory (issue #16, escape 3): both backends refuse them the same way,
 * with a TypeError naming the argument — every op, every array argument. And both still run the
 * same call with ordinary buffers.
 */
import { describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend } from '../../ts/backend/types.js';
import { arrayAt, KERNEL_CALLS, setArrayAt, sharedCopy } from '../../scripts/fuzz/kernel-calls.js';
import { nativeAvailable } from '../models/helpers.js';

const backends: Backend[] = [getBackend('js'), ...(nativeAvailable() ? [getBackend('native')] : [])];
const call = (b: Backend, op: keyof Backend, args: unknown[]): unknown => (b[op] as (...a: unknown[]) => unknown)(...args);
const thrown = (f: () => unknown): Error | null => {
  try {
    f();
    return null;
  } catch (err) {
    return err as Error;
  }
};

describe.each(backends.map((b) => [b.name, b] as const))('%s backend: SharedArrayBuffer-backed arguments', (_name, backend) => {
  it('the issue\'s example: silu(shared, out) is a TypeError naming out', () => {
    const err = thrown(() => backend.silu(new Float32Array(new SharedArrayBuffer(16)), new Float32Array(4)));
    expect(err).toBeInstanceOf(TypeError);
    expect(err!.message).toMatch(/^tensorloom: out is backed by a SharedArrayBuffer/);
  });

  it('attention with a bigint D names D (fuzz: kernels seed 7 #8511 was "Cannot convert a BigInt value to a number")', () => {
    const args = KERNEL_CALLS.find((c) => c.op === 'attention')!.args();
    args[4] = { ...(args[4] as object), D: 4n };
    const err = thrown(() => call(backend, 'attention', args));
    expect(err).toBeInstanceOf(TypeError);
    expect(err!.message).toMatch(/^tensorloom: D must be a number/);
  });

  it.each(KERNEL_CALLS.map((c) => [c.op, c] as const))('%s: each array argument, shared, is refused by name; the ordinary call runs', (_op, c) => {
    expect(thrown(() => call(backend, c.op, c.args()))).toBeNull();
    for (const arr of c.arrays) {
      const args = c.args();
      setArrayAt(args, arr.at, sharedCopy(arrayAt(args, arr.at)));
      const err = thrown(() => call(backend, c.op, args));
      expect(err, `${c.op} arg ${arr.at.join('.')}`).toBeInstanceOf(TypeError);
      expect(err!.message).toMatch(/is backed by a SharedArrayBuffer/);
      expect(err!.message).toMatch(arr.name);
    }
  });
});

describe.skipIf(!nativeAvailable())('native and JS agree on the message', () => {
  it.each(KERNEL_CALLS.map((c) => [c.op, c] as const))('%s', (_op, c) => {
    for (const arr of c.arrays) {
      const msgs = backends.map((b) => {
        const args = c.args();
        setArrayAt(args, arr.at, sharedCopy(arrayAt(args, arr.at)));
        return thrown(() => call(b, c.op, args))?.message;
      });
      expect(msgs[1], `${c.op} arg ${arr.at.join('.')}`).toBe(msgs[0]);
    }
  });
});
