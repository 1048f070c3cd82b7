import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../ts/native/addon.js';
import { defaultIoMode, openFileBytes } from '../../ts/formats/mapped-file.js';
import { tensorF32, tensorWeights, type TensorEntry } from '../../ts/formats/tensor-data.js';
import { f32ToF16, quantizeQ8_0 } from '../../ts/formats/dtype-convert.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-mmap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const addon = loadAddon().addon;
const haveMmap = typeof addon?.mmapFile === 'function';

function fileWith(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe.skipIf(!haveMmap)(`native mmapFile (addon ${haveMmap ? 'loaded' : `absent: ${loadAddon().error}`})`, () => {
  it('maps the exact file bytes, reports residency, and close() detaches every view', () => {
    const data = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
    const p = fileWith('a.bin', data);
    const f = openFileBytes(p, { mode: 'mmap' });
    expect(f.mapped).toBe(true);
    expect(Buffer.compare(f.bytes, data)).toBe(0);
    const view = new Float32Array(f.bytes.buffer, 4, 10);
    expect(view.length).toBe(10);
    expect(f.residentBytes()).toBeGreaterThan(0);
    expect(f.residentBytes()).toBeLessThanOrEqual(data.length);
    f.close();
    expect(view.length).toBe(0); // detached, not dangling
    expect(f.bytes.length).toBe(0);
    expect(f.residentBytes()).toBe(0);
    f.close(); // idempotent
  });

  it('errors clearly for a missing, an empty, or a non-regular file', () => {
    expect(() => openFileBytes(join(dir, 'nope.bin'), { mode: 'mmap' })).toThrow(/cannot open .*nope\.bin.*No such file/);
    expect(() => openFileBytes(fileWith('empty.bin', new Uint8Array(0)), { mode: 'mmap' })).toThrow(/is empty/);
    expect(() => openFileBytes(dir, { mode: 'mmap' })).toThrow(/not a regular file/);
    expect(() => (addon!.mmapFile as (p: unknown) => unknown)(42)).toThrow(TypeError);
  });

  it('munmapFile rejects foreign buffers and survives many open/close and GC-only cycles', () => {
    expect(addon!.munmapFile!(new ArrayBuffer(8))).toBe(false);
    const p = fileWith('b.bin', new Uint8Array(4096).fill(7));
    for (let i = 0; i < 2000; i++) {
      const f = openFileBytes(p, { mode: 'mmap' });
      expect(f.bytes[4095]).toBe(7);
      if (i % 2 === 0) f.close(); // the others are left to the garbage collector
    }
  });

  it('unmaps when the buffer is garbage-collected (counted in /proc/self/maps)', async () => {
    if (!existsSync('/proc/self/maps')) return;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const p = fileWith('gc.bin', new Uint8Array(8192).fill(3));
    const mapsOf = () => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(p)).length;
    const before = mapsOf();
    let files: ReturnType<typeof openFileBytes>[] = [];
    for (let i = 0; i < 50; i++) files.push(openFileBytes(p, { mode: 'mmap' }));
    expect(mapsOf()).toBe(before + 50);
    files[0]!.close(); // an explicit close first, then the collector for all 50: no double unmap
    files = [];
    for (let round = 0; round < 10 && mapsOf() > before; round++) {
      gc();
      await new Promise((r) => setImmediate(r)); // Node runs external-buffer finalizers on the loop
    }
    expect(mapsOf()).toBe(before);
  });
});

// The embedding op reads the rows of a table of 4 MiB or more that lies in a mapped file with pread
// (native/binding/files.cpp, "Sparse reads"), so that a row read does not map its page-cache folio.
describe.skipIf(!haveMmap)('embedding rows of a mapped table (sparse reads)', () => {
  const rows = 1200, cols = 1024; // 4.9 MB of f32
  const table = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.001) + (i % 7));
  const ids = Int32Array.of(0, 7, 1199, 600, 7);
  const expected = new Float32Array(ids.length * cols);
  ids.forEach((id, i) => expected.set(table.subarray(id * cols, (id + 1) * cols), i * cols));
  const embed = (view: Float32Array) => {
    const out = new Float32Array(ids.length * cols);
    (addon!.embedding as (...a: unknown[]) => void)(out, view, 0, rows, cols, ids);
    return out;
  };
  const fileOf = (name: string, fill: number) => {
    const bytes = new Uint8Array(4096 + table.byteLength).fill(fill);
    if (fill === 0) bytes.set(new Uint8Array(table.buffer), 4096);
    return fileWith(name, bytes);
  };
  /** The mapped pages of [byteOffset, byteOffset + byteLength) of the mapping of `path` present in this process. */
  const presentPages = (path: string, byteOffset: number, byteLength: number): number => {
    const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.endsWith(path))!;
    const base = BigInt('0x' + line.split('-')[0]);
    const first = (base + BigInt(byteOffset)) / 4096n, n = Math.ceil(byteLength / 4096);
    const buf = Buffer.alloc(n * 8);
    const fd = openSync('/proc/self/pagemap', 'r');
    try {
      readSync(fd, buf, 0, n * 8, Number(first * 8n));
    } finally {
      closeSync(fd);
    }
    let present = 0;
    for (let i = 0; i < n; i++) if (buf.readBigUInt64LE(i * 8) >> 63n) present++;
    return present;
  };

  it('gives the rows of the table and leaves its mapped pages untouched', () => {
    const p = fileOf('table.bin', 0);
    const f = openFileBytes(p, { mode: 'mmap' });
    try {
      const view = new Float32Array(f.bytes.buffer, 4096, rows * cols);
      expect(embed(view)).toEqual(expected);
      if (existsSync('/proc/self/pagemap')) expect(presentPages(p, 4096, table.byteLength)).toBe(0);
      expect(view[5 * cols]).toBe(table[5 * cols]); // a read through the mapping still works (and maps that page)
    } finally {
      f.close();
    }
    expect(embed(table)).toEqual(expected); // not a mapping: read from memory
  });

  it('reads through the mapping once the path names another file', () => {
    const p = fileOf('replaced.bin', 0);
    const f = openFileBytes(p, { mode: 'mmap' });
    try {
      renameSync(fileOf('other.bin', 0x41), p); // same size, other bytes, other inode
      expect(embed(new Float32Array(f.bytes.buffer, 4096, rows * cols))).toEqual(expected);
    } finally {
      f.close();
    }
  });
});

const haveHuge = typeof addon?.hugePages === 'function';
describe.skipIf(!haveHuge)('native hugePages (mode huge)', () => {
  it('keeps the exact bytes of small and multi-huge-page files, and close() detaches', () => {
    for (const n of [1, 4095, 100_000, 5 * 2 ** 20 + 123]) {
      const data = new Uint8Array(n).map((_, i) => (i * 131 + (i >> 12)) & 0xff);
      const p = fileWith(`h${n}.bin`, data);
      const f = openFileBytes(p, { mode: 'huge' });
      expect(f.bytes.length).toBe(n);
      expect(Buffer.compare(f.bytes, data)).toBe(0);
      expect(f.residentBytes()).toBeGreaterThan(0);
      const view = new Uint8Array(f.bytes.buffer, 0, 1);
      f.close();
      expect(view.length).toBe(0);
      expect(f.residentBytes()).toBe(0);
      expect(f.hugePages(0, 1)).toBe(0);
      f.close();
    }
  });

  it('moves only whole 2 MiB pages inside the range, same bytes at the same addresses; rejects bad arguments', () => {
    const n = 7 * 2 ** 20 + 1000;
    const data = new Uint8Array(n).map((_, i) => (i * 7 + (i >> 16)) & 0xff);
    const f = openFileBytes(fileWith('range.bin', data), { mode: 'mmap' });
    const view = f.bytes.subarray(3 * 2 ** 20, 3 * 2 ** 20 + 10); // made before: must stay valid
    expect(f.hugePages(2 ** 20, 2 ** 20)).toBe(0); // no whole page inside
    expect(f.hugePages(2 ** 20 + 5, 5 * 2 ** 20)).toBe(2 * 2 ** 21); // the pages at 2 and 4 MiB
    expect(f.hugePages(0, n)).toBeGreaterThan(0);
    expect(Buffer.compare(f.bytes, data)).toBe(0);
    expect(Array.from(view)).toEqual(Array.from(data.subarray(3 * 2 ** 20, 3 * 2 ** 20 + 10)));
    const hp = addon!.hugePages as (...a: unknown[]) => unknown;
    expect(() => hp(f.bytes.buffer, 0, n + 1)).toThrow(/outside the buffer/);
    expect(() => hp(new ArrayBuffer(8), 0, 8)).toThrow(/from mmapFile/);
    expect(() => hp(f.bytes.buffer, 'x', 1)).toThrow(TypeError);
    f.close();
  });

  it('maps files of 2 MiB and more at 2 MiB-aligned addresses (/proc/self/maps)', () => {
    if (!existsSync('/proc/self/maps')) return;
    const p = fileWith('big.bin', new Uint8Array(4 * 2 ** 20 + 5).fill(1));
    const f = openFileBytes(p, { mode: 'mmap' });
    const line = readFileSync('/proc/self/maps', 'utf8').split('\n').find((l) => l.endsWith(p));
    expect(line).toBeDefined();
    expect(BigInt('0x' + line!.split('-')[0]!) % BigInt(2 ** 21)).toBe(0n);
    expect(f.bytes[4 * 2 ** 20 + 4]).toBe(1);
    f.close();
  });
});

describe('io mode from the environment', () => {
  it('TENSORLOOM_IO picks the mode, TENSORLOOM_NO_MMAP means read, anything else is rejected', () => {
    const saved = { io: process.env.TENSORLOOM_IO, no: process.env.TENSORLOOM_NO_MMAP };
    try {
      delete process.env.TENSORLOOM_IO;
      delete process.env.TENSORLOOM_NO_MMAP;
      expect(defaultIoMode()).toBe('auto');
      process.env.TENSORLOOM_NO_MMAP = '1';
      expect(defaultIoMode()).toBe('read');
      process.env.TENSORLOOM_IO = 'huge';
      expect(defaultIoMode()).toBe('huge');
      process.env.TENSORLOOM_IO = 'fast';
      expect(() => defaultIoMode()).toThrow(/TENSORLOOM_IO must be one of auto \| read \| mmap \| huge, got 'fast'/);
    } finally {
      for (const [k, v] of [['TENSORLOOM_IO', saved.io], ['TENSORLOOM_NO_MMAP', saved.no]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('read fallback', () => {
  it('reads the same bytes without the addon path', () => {
    const data = new Uint8Array(5000).map((_, i) => i & 0xff);
    const p = fileWith('c.bin', data);
    const f = openFileBytes(p, { mode: 'read' });
    expect(f.mapped).toBe(false);
    expect(Buffer.compare(f.bytes, data)).toBe(0);
    expect(f.residentBytes()).toBe(5000);
    f.close();
    expect(f.bytes.length).toBe(0);
    expect(() => openFileBytes(join(dir, 'nope.bin'), { mode: 'read' })).toThrow(/cannot open/);
    expect(() => openFileBytes(fileWith('e2.bin', new Uint8Array(0)), { mode: 'read' })).toThrow(/is empty/);
  });
});

describe('tensor views', () => {
  const values = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  const entry = (type: TensorEntry['type'], offset: number, byteLength: number, shape = [2, 32]): TensorEntry => ({ name: 't', type, shape, offset, byteLength, file: 0 });

  it('views aligned F32/F16/Q8_0 data in place and copies only unaligned data', () => {
    const buf = new Uint8Array(1024);
    buf.set(new Uint8Array(values.buffer), 64);
    const w = tensorWeights(buf, entry('F32', 64, 256));
    expect(w).toMatchObject({ dtype: 'f32', rows: 2, cols: 32 });
    expect(w.data.buffer).toBe(buf.buffer); // a view, not a copy
    expect(Array.from(w.data)).toEqual(Array.from(values));
    buf.copyWithin(67, 64, 64 + 256); // now at an unaligned offset
    const u = tensorWeights(buf, entry('F32', 67, 256));
    expect(u.data.buffer).not.toBe(buf.buffer);
    expect(Array.from(u.data)).toEqual(Array.from(values));

    const h = Uint16Array.from(values, f32ToF16);
    buf.set(new Uint8Array(h.buffer), 512);
    const hw = tensorWeights(buf, entry('F16', 512, 128));
    expect(hw.dtype).toBe('f16');
    expect(hw.data.buffer).toBe(buf.buffer);
    expect(Array.from(hw.data)).toEqual(Array.from(h));
    const back = tensorF32(buf, entry('F16', 512, 128));
    for (let i = 0; i < 64; i++) expect(Math.abs(back[i]! - values[i]!)).toBeLessThanOrEqual(Math.abs(values[i]!) * 2 ** -11);

    const q = quantizeQ8_0(values);
    buf.set(q, 700);
    const qw = tensorWeights(buf, entry('Q8_0', 700, 68));
    expect(qw).toMatchObject({ dtype: 'q8_0', rows: 2, cols: 32 });
    expect(Array.from(qw.data)).toEqual(Array.from(q));
  });

  it('serves Q4_0 in its own layout (a view of the block bytes) and dequantizes it exactly', () => {
    // One Q4_0 block: scale 0.5 (f16 0x3800), codes 0..15 then 15..0 in the nibbles.
    const block = new Uint8Array(18);
    block[0] = 0x00; block[1] = 0x38;
    const codes = Array.from({ length: 32 }, (_, j) => (j < 16 ? j : 31 - j));
    for (let j = 0; j < 16; j++) block[2 + j] = codes[j]! | (codes[j + 16]! << 4);
    const w = tensorWeights(block, entry('Q4_0', 0, 18, [32]));
    expect(w.dtype).toBe('q4_0');
    expect(w.data.buffer).toBe(block.buffer);
    const v = tensorF32(block, entry('Q4_0', 0, 18, [32]));
    expect(Array.from(v)).toEqual(codes.map((c) => (c - 8) * 0.5));
  });

  it('rejects types it cannot compute with and out-of-range entries', () => {
    const buf = new Uint8Array(256);
    expect(() => tensorWeights(buf, entry('IQ2_XXS', 0, 66, [256]))).toThrow(/IQ2_XXS, which tensorloom cannot compute with/);
    expect(() => tensorWeights(buf, entry('Q4_K', 0, 143, [256]))).toThrow(/143 bytes of Q4_K data, but \[1, 256\] needs 144/);
    expect(() => tensorWeights(buf, entry('F32', 200, 256))).toThrow(/lie outside/);
  });
});
