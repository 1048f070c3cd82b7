/**
 * Seeded mutations for the fuzzer: every input is a pure function of (seed, target, index), so a
 * failure is reproduced by its index alone (`npm run fuzz -- --target T --only INDEX`).
 */
import { Rng } from '../../ts/generate/rng.js';

export class FuzzRng extends Rng {
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
}

/** The generator for input `index` of `target` under `seed` (independent streams per input). */
export function inputRng(seed: number, target: string, index: number): FuzzRng {
  let h = 2166136261 ^ seed;
  for (const c of `${target}#${index}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return new FuzzRng((h >>> 0) + index * 2 ** 32);
}

/** Integers that break size arithmetic: boundaries of every width, and small ones. */
export const INTERESTING_INTS: readonly number[] = [
  0, 1, 2, 3, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4095, 4096, 65535, 65536,
  2 ** 20, 2 ** 24, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1, -1, -2, -128, -32768, -(2 ** 31),
];

const INTERESTING_FLOATS: readonly number[] = [0, -0, 1, -1, 0.5, 1e-30, 1e30, 3.4e38, Number.NaN, Infinity, -Infinity, 1e-45, 65504];

/** Writes an interesting value of a random width at `at` (little-endian). */
function writeInteresting(b: Uint8Array, at: number, rng: FuzzRng): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const width = rng.pick([1, 2, 4, 4, 8, 8]);
  if (at + width > b.length) return;
  if (rng.chance(0.15) && width >= 4) {
    const f = rng.pick(INTERESTING_FLOATS);
    if (width === 4) dv.setFloat32(at, f, true);
    else dv.setFloat64(at, f, true);
    return;
  }
  let v = rng.pick(INTERESTING_INTS);
  if (rng.chance(0.3)) v += rng.int(5) - 2; // off by one or two
  if (width === 8) dv.setBigInt64(at, BigInt.asIntN(64, BigInt(Math.trunc(v))), true);
  else if (width === 4) dv.setUint32(at, v >>> 0, true);
  else if (width === 2) dv.setUint16(at, v & 0xffff, true);
  else b[at] = v & 0xff;
}

/**
 * 1–4 byte-level mutations; positions fall in [0, focus) with probability 0.85 (the header,
 * where lengths, counts and offsets live), else anywhere.
 */
export function mutateBytes(seed: Uint8Array, rng: FuzzRng, focus = seed.length, others: readonly Uint8Array[] = []): Uint8Array {
  let b: Uint8Array = Uint8Array.from(seed);
  const n = 1 + rng.int(4);
  for (let m = 0; m < n; m++) {
    const len = b.length;
    if (len === 0) return rng.chance(0.5) ? b : Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
    const at = rng.chance(0.85) ? rng.int(Math.max(1, Math.min(focus, len))) : rng.int(len);
    switch (rng.int(9)) {
      case 0: b[at] = b[at]! ^ (1 << rng.int(8)); break; // bit flip
      case 1: b[at] = rng.pick([0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x5c, rng.int(256)]); break;
      case 2: case 3: writeInteresting(b, at, rng); break;
      case 4: { // delete a range
        const k = 1 + rng.int(rng.chance(0.8) ? 16 : 4096);
        b = concat(b.subarray(0, at), b.subarray(Math.min(len, at + k)));
        break;
      }
      case 5: { // insert random bytes
        const ins = Uint8Array.from({ length: 1 + rng.int(rng.chance(0.8) ? 16 : 1024) }, () => rng.int(256));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        break;
      }
      case 6: { // duplicate a range
        const k = 1 + rng.int(256);
        b = concat(b.subarray(0, at + k), b.subarray(at, Math.min(len, at + k)), b.subarray(Math.min(len, at + k)));
        break;
      }
      case 7: b = b.slice(0, rng.chance(0.5) ? at : rng.int(len)); break; // truncate
      case 8: { // splice in part of another seed (or this one) at the same offset
        const o = others.length > 0 ? rng.pick(others) : seed;
        const from = rng.int(Math.max(1, o.length));
        const k = Math.min(1 + rng.int(512), o.length - from, len - at);
        if (k > 0) b.set(o.subarray(from, from + k), at);
        break;
      }
    }
  }
  return b;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** JSON values that break readers: wrong kinds, boundaries, NaN-likes, huge and deep values. */
export function interestingJson(rng: FuzzRng): unknown {
  switch (rng.int(12)) {
    case 0: return null;
    case 1: return rng.pick(INTERESTING_INTS);
    case 2: return rng.pick([0.5, -0.5, 1.5, 63, 1e308, -1e308, 5e-324, 2 ** 64, 1e21]);
    case 3: return rng.pick(['', 'x', '-1', 'NaN', '\u0000', '\ud800', 'a'.repeat(1 + rng.int(5000))]);
    case 4: return rng.pick([true, false]);
    case 5: return [];
    case 6: return {};
    case 7: return Array.from({ length: rng.int(8) }, () => rng.pick([0, -1, 'x', null, 2 ** 40]));
    case 8: { // deep nesting
      let v: unknown = 1;
      for (let i = rng.int(2000); i > 0; i--) v = [v];
      return v;
    }
    case 9: return { a: rng.pick(INTERESTING_INTS) };
    case 10: return Array.from({ length: rng.int(100000) }, (_, i) => i);
    default: return -rng.int(1000);
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** 1–3 structural edits of a JSON document (replace a value, delete or add a key), or a byte mutation of its text. */
export function mutateJson(text: string, rng: FuzzRng): string {
  if (rng.chance(0.15)) return Buffer.from(mutateBytes(Buffer.from(text), rng)).toString('utf8');
  const doc = JSON.parse(text) as Json;
  let root: Json = doc;
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    // walk to a random container
    const path: (string | number)[] = [];
    let node: Json = root;
    for (let depth = 0; depth < 6; depth++) {
      const keys = containerKeys(node);
      if (keys.length === 0 || (depth > 0 && rng.chance(0.35))) break;
      const k = rng.pick(keys);
      const child = (node as Record<string | number, Json>)[k]!;
      if (containerKeys(child).length === 0) {
        path.push(k);
        break;
      }
      path.push(k);
      node = child;
    }
    if (path.length === 0) {
      root = interestingJson(rng) as Json;
      continue;
    }
    const last = path.pop()!;
    let parent: Json = root;
    for (const k of path) parent = (parent as Record<string | number, Json>)[k]!;
    const p = parent as Record<string | number, Json>;
    const op = rng.int(4);
    if (op === 0 && !Array.isArray(p)) delete p[last];
    else if (op === 1 && !Array.isArray(p)) p[`${String(last)}_${rng.int(9)}`] = interestingJson(rng) as Json;
    else p[last] = interestingJson(rng) as Json;
  }
  return JSON.stringify(root);
}

function containerKeys(v: Json): (string | number)[] {
  if (Array.isArray(v)) return v.length > 0 ? [0, v.length - 1, Math.floor(v.length / 2)] : [];
  if (v && typeof v === 'object') return Object.keys(v);
  return [];
}
