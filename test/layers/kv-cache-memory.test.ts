/**
 * Where a KVCache's K/V memory comes from: one allocate() call for every buffer (Backend.allocate,
 * which the native backend maps in 2 MiB pages), each buffer a 64-byte-aligned, disjoint view of
 * it; shared and recurrent layers take none. And the backends' allocate itself.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KVCache } from '../../ts/layers/kv-cache.js';
import { createJsBackend } from '../../ts/backend/js/index.js';
import { getBackend } from '../../ts/backend/index.js';

describe('KVCache memory', () => {
  it.each(['f32', 'f16'] as const)('%s: one allocate() call; every buffer an aligned, disjoint view of it', (dtype) => {
    const calls: number[] = [];
    let memory: ArrayBuffer | null = null;
    const c = new KVCache({
      layers: 4, maxSeq: 7, kvHeads: 3, headDim: 5, dtype, sharedFrom: [null, null, null, 1],
      allocate: (bytes) => {
        calls.push(bytes);
        return (memory = new ArrayBuffer(bytes));
      },
    });
    const elem = dtype === 'f32' ? 4 : 2;
    const per = Math.ceil((7 * 15 * elem) / 64) * 64; // 7 positions × 15 values, rounded up to 64 bytes
    expect(calls).toEqual([3 * 2 * per]); // layer 3 reads layer 1's K/V
    const spans: [number, number][] = [];
    for (let l = 0; l < 3; l++) {
      for (const a of [c.keys(l), c.values(l)]) {
        expect(a.buffer).toBe(memory);
        expect(a.length).toBe(7 * 15);
        expect(a.byteOffset % 64).toBe(0);
        spans.push([a.byteOffset, a.byteOffset + a.byteLength]);
      }
    }
    spans.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(c.keys(3)).toBe(c.keys(1));
    // writes land where they should: each buffer's last value is its own
    for (let l = 0; l < 3; l++) c.keys(l)[7 * 15 - 1] = 10 + l;
    for (let l = 0; l < 3; l++) expect(c.keys(l)[7 * 15 - 1]).toBe(10 + l);
  });

  it('recurrent layers take no memory; a too-small buffer is refused by name', () => {
    const calls: number[] = [];
    const recurrent = [{ size: 10, owner: 'test' }, { size: 0, owner: 'test' }];
    new KVCache({ layers: 2, maxSeq: 4, kvHeads: 1, headDim: 16, dtype: 'f16', recurrent, allocate: (b) => (calls.push(b), new ArrayBuffer(b)) });
    expect(calls).toEqual([2 * 128]);
    expect(() => new KVCache({ layers: 1, maxSeq: 4, kvHeads: 1, headDim: 16, allocate: () => new ArrayBuffer(8) })).toThrow(
      /KVCache allocate\(512\) must return an ArrayBuffer of at least 512 bytes/,
    );
  });

  it('the backends allocate zeroed, writable memory and refuse bad sizes', () => {
    const backends = [createJsBackend()];
    const native = getBackend();
    if (native.name === 'native') backends.push(native); // (where the addon loads: the CI machines)
    for (const b of backends) {
      const buf = b.allocate(3 << 20);
      expect(buf.byteLength).toBe(3 << 20);
      const v = new Float32Array(buf);
      expect(v.every((x) => x === 0)).toBe(true);
      v[v.length - 1] = 2.5;
      expect(v[v.length - 1]).toBe(2.5);
      expect(b.allocate(0).byteLength).toBe(0);
      expect(() => b.allocate(-1)).toThrow(RangeError);
      expect(() => b.allocate(1.5)).toThrow(RangeError);
    }
  });

  // Where transparent huge pages work, the last, partial 2 MiB page of a native buffer stays in
  // small pages: a 2 MiB + 4 KiB buffer written end to end costs ~2 MiB of RSS, not 4.
  const thp = existsSync('/sys/kernel/mm/transparent_hugepage/enabled') ? readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8') : '';
  it.skipIf(getBackend().name !== 'native' || !/\[(always|madvise)\]/.test(thp))('native buffers take no huge page past their end', () => {
    const rssAnon = () => Number(/^RssAnon:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    const n = 6;
    const before = rssAnon();
    const kept = Array.from({ length: n }, () => {
      const buf = getBackend().allocate((2 << 20) + 4096);
      new Uint8Array(buf).fill(1);
      return buf;
    });
    const grown = rssAnon() - before;
    expect(kept.length).toBe(n);
    expect(grown).toBeGreaterThan(n * (1 << 20)); // the bytes written are resident (slack: the rest of the process may shrink meanwhile)
    expect(grown).toBeLessThan(n * (3 << 20)); // a huge page per tail would make it n × 4 MiB
  });
});
