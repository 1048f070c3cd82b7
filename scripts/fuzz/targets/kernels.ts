/**
 * The kernel bindings, called as a careless or hostile caller would: a valid call from
 * ../kernel-calls.ts with 1–3 of its arguments replaced — wrong sizes and dtypes, numbers at the
 * edges, shared, detached and resizable (then shrunk) buffers, unaligned or empty views, a Weights
 * object or attention shape that lies. Native backend (and the JS one, to keep the two alike).
 */
import { getBackend } from '../../../ts/backend/index.js';
import type { Backend } from '../../../ts/backend/types.js';
import { arrayAt, KERNEL_CALLS, setArrayAt, sharedCopy } from '../kernel-calls.js';
import { INTERESTING_INTS, type FuzzRng } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

/** Resizable ArrayBuffers (ES2024; Node ≥ 20), typed here because the project's lib is older. */
type Resizable = ArrayBuffer & { resize(n: number): void };
const resizable = (bytes: number, max: number): Resizable => new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => Resizable)(bytes, { maxByteLength: max });

const CTORS = [Float32Array, Uint16Array, Uint8Array, Int32Array, Uint32Array, Float64Array, Int8Array] as const;
type AnyCtor = (typeof CTORS)[number];

function oddArray(v: ArrayBufferView, rng: FuzzRng): unknown {
  if (!ArrayBuffer.isView(v) || v instanceof DataView) return rng.pick([new Float32Array(3), null, 7]); // already replaced
  const Ctor = v.constructor as AnyCtor;
  const len = (v as unknown as { length: number }).length;
  switch (rng.int(12)) {
    case 0: return new Ctor(Math.max(0, len + rng.pick([-1, 1, -len, len, 7])));
    case 1: return new (rng.pick(CTORS))(len);
    case 2: return sharedCopy(v);
    case 3: { // detached
      const c = new Ctor(len);
      structuredClone(c.buffer, { transfer: [c.buffer] });
      return c;
    }
    case 4: { // length-tracking view over a resizable buffer, then shrunk (or grown)
      const bpe = Ctor.BYTES_PER_ELEMENT;
      const rab = resizable(len * bpe, (len + 16) * bpe);
      const view = new Ctor(rab);
      rab.resize(rng.chance(0.5) ? rng.int(len + 1) * bpe : (len + rng.int(16)) * bpe);
      return view;
    }
    case 5: { // a fixed-length view over a resizable buffer that then shrinks below it (out of bounds)
      const bpe = Ctor.BYTES_PER_ELEMENT;
      const rab = resizable(len * bpe, len * bpe + 64);
      const view = new Ctor(rab, 0, len);
      rab.resize(rng.int(len * bpe + 1));
      return view;
    }
    case 6: { // a view at an offset into a bigger buffer
      const bpe = Ctor.BYTES_PER_ELEMENT;
      return new Ctor(new ArrayBuffer((len + 8) * bpe), bpe * (1 + rng.int(7)), len);
    }
    case 7: return rng.pick([null, undefined, 0, 'x', {}, [], [1, 2, 3], new DataView(new ArrayBuffer(8))]);
    case 8: return Array.from({ length: len }, () => 1);
    case 9: { // NaN / Inf / huge content (values, not shape)
      const c = new Ctor(len);
      if (c instanceof Float32Array || c instanceof Float64Array) c.fill(rng.pick([Number.NaN, Infinity, -Infinity, 3e38]));
      else c.fill(rng.int(2 ** 16));
      return c;
    }
    case 10: return new Ctor(0);
    default: return new Ctor(len * 2);
  }
}

function oddNumber(v: number, rng: FuzzRng): unknown {
  switch (rng.int(5)) {
    case 0: return rng.pick(INTERESTING_INTS);
    case 1: return rng.pick([Number.NaN, Infinity, -Infinity, 0.5, -0.5, 1e300, -0]);
    case 2: return v + rng.pick([-1, 1, 2]);
    case 3: return rng.pick([null, undefined, '4', 4n, {}]);
    default: return v * rng.pick([2, 1000, 2 ** 20]);
  }
}

function oddObject(v: Record<string, unknown>, rng: FuzzRng): unknown {
  if (rng.chance(0.15)) return rng.pick([null, undefined, 1, 'w', []]);
  const o: Record<string, unknown> = { ...v };
  const keys = Object.keys(o);
  const k = rng.pick(keys);
  const cur = o[k];
  if (typeof cur === 'number') o[k] = oddNumber(cur, rng);
  else if (typeof cur === 'string') o[k] = rng.pick(['f16', 'bf16', 'q8_0', 'q4_0', 'f64', '', 'half', 'erf', 'interleaved', 'half']);
  else if (ArrayBuffer.isView(cur)) o[k] = oddArray(cur, rng);
  else if (cur && typeof cur === 'object') o[k] = oddObject(cur as Record<string, unknown>, rng);
  else if (rng.chance(0.5)) delete o[k];
  if (rng.chance(0.2)) o.rope = rng.pick([{ theta: Number.NaN, layout: 'interleaved' }, { theta: 1e4, layout: 'half', dims: 3 }, { theta: -1, layout: 'x' }, 5]);
  return o;
}

export const kernels: FuzzTarget<Backend[]> = {
  name: 'kernels',
  about: 'every backend op with 1–3 bad arguments (shapes, dtypes, shared/detached/resizable buffers, lying Weights and attention shapes)',
  unavailable: () => null,
  setup: () => {
    const list: Backend[] = [];
    try {
      list.push(getBackend('native'));
    } catch {
      /* no addon: the JS backend alone */
    }
    list.push(getBackend('js'));
    return list;
  },
  run(backends, rng) {
    const call = rng.pick(KERNEL_CALLS);
    const backend = backends.length > 1 && rng.chance(0.2) ? backends[1]! : backends[0]!;
    const args = call.args();
    const n = 1 + rng.int(3);
    for (let m = 0; m < n; m++) {
      const r = rng.int(10);
      if (r < 5 && call.arrays.length > 0) {
        const arr = rng.pick(call.arrays);
        setArrayAt(args, arr.at, oddArray(arrayAt(args, arr.at), rng));
      } else if (r < 8) {
        const i = rng.int(args.length);
        const v = args[i];
        if (typeof v === 'number') args[i] = oddNumber(v, rng);
        else if (typeof v === 'string') args[i] = rng.pick(['', 'erf', 'none', 'tanh ', 5]);
        else if (v && typeof v === 'object' && !ArrayBuffer.isView(v)) args[i] = oddObject(v as Record<string, unknown>, rng);
        else args[i] = rng.pick([undefined, null, 3]);
      } else if (r === 8) args.length = rng.int(args.length); // missing arguments
      else args.push(rng.pick([1, null, new Float32Array(4)]));
    }
    (backend[call.op] as (...a: unknown[]) => unknown)(...args);
  },
};
