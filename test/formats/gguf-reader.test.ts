import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError, GGUFStringList, readGGUF, type GGUFFile } from '../../ts/formats/gguf.js';
import { haveStories, haveVocabs, peersModulePath, rng, sharedGGUFs, storiesDir } from './helpers.js';
import { join } from 'node:path';

/**
 * A hand-written GGUF encoder, independent of ts/formats/gguf-writer.ts, so the reader is tested
 * against bytes laid out straight from the format description.
 */
class Enc {
  parts: number[] = [];
  u8(v: number) { this.parts.push(v & 0xff); return this; }
  u32(v: number) { for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff); return this; }
  u64(v: bigint | number) { let b = BigInt(v); for (let i = 0; i < 8; i++) { this.parts.push(Number(b & 0xffn)); b >>= 8n; } return this; }
  raw(bytes: ArrayLike<number>) { for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]!); return this; }
  typed(a: ArrayBufferView) { return this.raw(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)); }
  str(s: string) { const b = new TextEncoder().encode(s); return this.u64(b.length).raw(b); }
  pad(align: number) { while (this.parts.length % align) this.parts.push(0); return this; }
  bytes() { return Uint8Array.from(this.parts); }
}

function header(e: Enc, tensors: number, kvs: number, version = 3) {
  return e.raw([0x47, 0x47, 0x55, 0x46]).u32(version).u64(tensors).u64(kvs);
}

/** One KV of every value type, plus nested arrays, and two tensors (F32, Q8_0). */
function sampleFile(): { bytes: Uint8Array; f32: Float32Array; q8: Uint8Array } {
  const e = new Enc();
  header(e, 2, 18);
  e.str('u8').u32(0).u8(200);
  e.str('i8').u32(1).u8(-5);
  e.str('u16').u32(2).typed(Uint16Array.of(65000));
  e.str('i16').u32(3).typed(Int16Array.of(-30000));
  e.str('u32').u32(4).u32(4000000000);
  e.str('i32').u32(5).typed(Int32Array.of(-2000000000));
  e.str('f32').u32(6).typed(Float32Array.of(1.5));
  e.str('bool').u32(7).u8(1);
  e.str('string').u32(8).str('héllo ✓');
  e.str('u64.small').u32(10).u64(123456789012n);
  e.str('u64.big').u32(10).u64(0xffffffffffffffffn);
  e.str('i64').u32(11).typed(BigInt64Array.of(-9007199254740993n));
  e.str('f64').u32(12).typed(Float64Array.of(Math.PI));
  e.str('arr.i32').u32(9).u32(5).u64(3).typed(Int32Array.of(-1, 0, 7));
  e.str('arr.f32').u32(9).u32(6).u64(2).typed(Float32Array.of(0.25, -8));
  e.str('arr.str').u32(9).u32(8).u64(4).str('a').str('').str('<0x0A>').str('\uFEFF');
  e.str('arr.bool').u32(9).u32(7).u64(2).u8(0).u8(1);
  e.str('arr.nested').u32(9).u32(9).u64(2).u32(4).u64(2).typed(Uint32Array.of(1, 2)).u32(8).u64(1).str('x');
  const f32 = Float32Array.of(1, 2, 3, 4, 5, 6);
  const q8 = new Uint8Array(34).map((_, i) => i * 7);
  e.str('w').u32(2).u64(3).u64(2).u32(0).u64(0);
  e.str('q').u32(1).u64(32).u32(8).u64(32);
  e.pad(32).typed(f32).pad(32).raw(q8);
  return { bytes: e.bytes(), f32, q8 };
}

describe('GGUF reader: synthetic file with every value type', () => {
  const { bytes } = sampleFile();
  const f = readGGUF(bytes);

  it('decodes scalars with their exact values', () => {
    const m = f.metadata;
    expect(m.get('u8')).toBe(200);
    expect(m.get('i8')).toBe(-5);
    expect(m.get('u16')).toBe(65000);
    expect(m.get('i16')).toBe(-30000);
    expect(m.get('u32')).toBe(4000000000);
    expect(m.get('i32')).toBe(-2000000000);
    expect(m.get('f32')).toBe(1.5);
    expect(m.get('bool')).toBe(true);
    expect(m.get('string')).toBe('héllo ✓');
    expect(m.get('u64.small')).toBe(123456789012);
    expect(m.get('u64.big')).toBe(0xffffffffffffffffn);
    expect(m.get('i64')).toBe(-9007199254740993n);
    expect(m.get('f64')).toBe(Math.PI);
  });

  it('returns numeric arrays as typed arrays and strings/bools/nesting as arrays', () => {
    const m = f.metadata;
    expect(m.get('arr.i32')).toEqual(Int32Array.of(-1, 0, 7));
    expect(m.get('arr.i32')).toBeInstanceOf(Int32Array);
    expect(m.get('arr.f32')).toEqual(Float32Array.of(0.25, -8));
    expect(m.get('arr.f32')).toBeInstanceOf(Float32Array);
    expect(m.get('arr.str')).toEqual(['a', '', '<0x0A>', '\uFEFF']); // a BOM token must survive decoding
    expect(m.get('arr.bool')).toEqual([false, true]);
    expect(m.get('arr.nested')).toEqual([Uint32Array.of(1, 2), ['x']]);
    expect(f.metadataTypes.get('arr.str')).toEqual({ type: 9, itemType: 8 });
  });

  it('locates tensor data at aligned offsets', () => {
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(32);
    expect(f.dataOffset % 32).toBe(0);
    const [w, q] = f.tensors;
    expect(w).toMatchObject({ name: 'w', dims: [3, 2], type: 'F32', byteLength: 24, elements: 6, relativeOffset: 0 });
    expect(q).toMatchObject({ name: 'q', dims: [32], type: 'Q8_0', byteLength: 34, relativeOffset: 32 });
    expect(Array.from(new Float32Array(bytes.slice(w!.offset, w!.offset + 24).buffer))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(bytes.subarray(q!.offset, q!.offset + 34))).toEqual(Array.from(sampleFile().q8));
  });

  it('gives a clear error at every truncation point, never a crash', () => {
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => readGGUF(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(FormatError);
    }
  });
});

describe('GGUF reader: lying or unsupported headers', () => {
  const bad = (build: (e: Enc) => void) => {
    const e = new Enc();
    build(e);
    return () => readGGUF(e.bytes());
  };
  it('rejects wrong magic and versions', () => {
    expect(bad((e) => e.raw([0x47, 0x47, 0x4d, 0x4c]).u32(3).u64(0).u64(0))).toThrow(/not a GGUF file/);
    expect(bad((e) => header(e, 0, 0, 1))).toThrow(/version 1/);
    expect(bad((e) => header(e, 0, 0, 7))).toThrow(/unsupported GGUF version 7/);
    expect(() => readGGUF(new Uint8Array(0))).toThrow(/too short/);
  });
  it('rejects counts that cannot fit in the file', () => {
    expect(bad((e) => header(e, 0, 1n << 40n as unknown as number))).toThrow(/metadata_kv_count/);
    expect(bad((e) => header(e.u8(0).u8(0).u8(0).u8(0).u32(0), 0, 0).u64(0)), 'garbage').toThrow(FormatError);
    expect(bad((e) => header(e, 1n << 60n as unknown as number, 0))).toThrow(/tensor_count/);
  });
  it('rejects huge string and array lengths', () => {
    expect(bad((e) => header(e, 0, 1).u64(1n << 62n).raw(new Uint8Array(16)))).toThrow(/string length .* exceeds|is too large/);
    expect(bad((e) => header(e, 0, 1).str('k').u32(9).u32(5).u64(1n << 40n).u64(0))).toThrow(/array of \d+ elements cannot fit/);
    expect(bad((e) => header(e, 0, 1).str('k').u32(8).u64(0xffffffffffffffffn))).toThrow(FormatError);
  });
  it('rejects unknown value types, bad bools, duplicate keys', () => {
    expect(bad((e) => header(e, 0, 1).str('k').u32(13).u32(0))).toThrow(/unknown value type 13/);
    expect(bad((e) => header(e, 0, 1).str('k').u32(7).u8(2))).toThrow(/bool byte is 2/);
    expect(bad((e) => header(e, 0, 2).str('k').u32(0).u8(1).str('k').u32(0).u8(1))).toThrow(/duplicate key/);
  });
  it('rejects bad tensor infos: unknown type, dims, offsets, overflow, block size', () => {
    const t = (dims: (number | bigint)[], type: number, off: number | bigint, dataBytes = 64, align?: number) =>
      bad((e) => {
        header(e, 1, align ? 1 : 0);
        if (align) e.str('general.alignment').u32(4).u32(align);
        e.str('t').u32(dims.length);
        for (const d of dims) e.u64(d);
        e.u32(type).u64(off).pad(align ?? 32).raw(new Uint8Array(dataBytes));
      });
    expect(t([4], 0, 0)).not.toThrow();
    expect(t([4], 99, 0)).toThrow(/unknown ggml type id 99/);
    expect(t([4], 4, 0)).toThrow(/unknown ggml type id 4/);
    expect(t([17], 0, 0)).toThrow(/lies outside/);
    expect(t([4], 0, 64)).toThrow(/lies outside/);
    expect(t([4], 0, 8)).toThrow(/not a multiple of the alignment/);
    expect(t([4], 0, 1n << 62n)).toThrow(FormatError);
    expect(t([1n << 40n, 1n << 40n], 0, 0)).toThrow(/overflow/);
    expect(t([16], 8, 0)).toThrow(/block size 32/);
    expect(t([1, 1, 1, 1, 1], 0, 0)).toThrow(/5 dimensions/);
    expect(t([4], 0, 0, 64, 3)).toThrow(/power of two/);
    expect(t([4], 0, 0, 64, 64)).not.toThrow();
  });
});

describe('GGUF reader: random byte flips never crash', () => {
  it('either parses or throws FormatError on 3000 corrupted copies', () => {
    const { bytes } = sampleFile();
    const rand = rng(1234);
    let errors = 0;
    for (let iter = 0; iter < 3000; iter++) {
      const copy = bytes.slice();
      const flips = 1 + Math.floor(rand() * 4);
      for (let k = 0; k < flips; k++) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
      try {
        const f = readGGUF(copy);
        for (const t of f.tensors) expect(t.offset + t.byteLength).toBeLessThanOrEqual(copy.length);
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(FormatError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(100);
  });
});

// ── real files, checked against node-llama-cpp's independent GGUF parser ─────────────────────────

function lookup(obj: unknown, key: string): unknown {
  let cur: unknown = obj;
  for (const part of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function normalize(v: unknown): unknown {
  if (v instanceof GGUFStringList) return v.toArray();
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Array.from(v as ArrayLike<unknown>, normalize);
  return v;
}

const peers = peersModulePath();
describe.skipIf(!haveStories && !haveVocabs)('GGUF reader: shared real files (../shared absent → skipped)', () => {
  const files = sharedGGUFs();
  it('parses every shared GGUF with plausible tensors', () => {
    expect(files.length).toBeGreaterThan(0);
    for (const p of files) {
      const f = readGGUF(p);
      expect(f.metadata.get('general.architecture'), p).toBeTypeOf('string');
      expect(f.metadata.get('tokenizer.ggml.tokens'), p).toBeInstanceOf(Array);
    }
  });

  it.skipIf(!haveStories)('reads stories260K-q8_0.gguf tensors and they tile the data section', () => {
    const p = join(storiesDir, 'stories260K-q8_0.gguf');
    const f = readGGUF(p);
    expect(f.tensors.length).toBe(48);
    const sorted = [...f.tensors].sort((a, b) => a.offset - b.offset);
    let end = f.dataOffset;
    for (const t of sorted) {
      expect(t.offset).toBeGreaterThanOrEqual(end);
      expect(t.offset - end).toBeLessThan(f.alignment);
      end = t.offset + t.byteLength;
    }
    expect(f.fileSize - end).toBeLessThan(f.alignment);
    // Path and in-memory input agree.
    const g = readGGUF(new Uint8Array(readFileSync(p)));
    expect(g.tensors).toEqual(f.tensors);
  });

  it.skipIf(!peers)('agrees with node-llama-cpp readGgufFileInfo on metadata and tensor infos (node-llama-cpp absent → skipped)', async () => {
    const mod = (await import(pathToFileURL(peers!).href)) as {
      readGgufFileInfo(p: string, o: object): Promise<{ version: number; metadata: unknown; fullTensorInfo?: { name: string; dimensions: (number | bigint)[]; ggmlType: number; fileOffset: number | bigint }[] }>;
    };
    for (const p of files) {
      const ours: GGUFFile = readGGUF(p);
      const theirs = await mod.readGgufFileInfo(p, { logWarnings: false });
      expect(ours.version, p).toBe(theirs.version);
      for (const [k, v] of ours.metadata) {
        expect(normalize(v), `${p}: ${k}`).toEqual(normalize(lookup(theirs.metadata, k)));
      }
      const tt = theirs.fullTensorInfo ?? [];
      expect(ours.tensors.length, p).toBe(tt.length);
      ours.tensors.forEach((t, i) => {
        expect(t.name).toBe(tt[i]!.name);
        expect(t.dims).toEqual(tt[i]!.dimensions.map(Number));
        expect(t.typeId).toBe(tt[i]!.ggmlType);
        expect(t.offset).toBe(Number(tt[i]!.fileOffset));
      });
    }
  });
});

describe('GGUF reader: string decoding', () => {
  it('decodes UTF-8 exactly like TextDecoder, including invalid sequences (U+FFFD) and long strings', () => {
    const samples: number[][] = [
      [0x61, 0xc4, 0xa0, 0x62], // aĠb
      [0xf0, 0x9f, 0x98, 0x80], // 😀 (surrogate pair)
      [0xe2, 0x96, 0x81, 0x74], // ▁t
      [0xc0, 0x80], // overlong NUL
      [0xed, 0xa0, 0x80], // lone surrogate
      [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
      [0xe2, 0x82], // truncated
      [0x80, 0x41], // stray continuation byte
      [0xef, 0xbb, 0xbf, 0x41], // BOM + A: kept
      Array.from({ length: 100 }, (_, i) => 0x41 + (i % 26)), // > 64 bytes: the TextDecoder path
      [0xc3, 0xa9, ...Array.from({ length: 70 }, () => 0x7a), 0xff], // long with an invalid byte
    ];
    const e = new Enc();
    header(e, 0, 1);
    e.str('s').u32(9).u32(8).u64(samples.length);
    for (const s of samples) e.u64(s.length).raw(s);
    const got = readGGUF(e.bytes()).metadata.get('s') as string[];
    const td = new TextDecoder('utf-8', { ignoreBOM: true });
    expect(got).toEqual(samples.map((s) => td.decode(Uint8Array.from(s))));
    expect(got[3]).toContain('\uFFFD');

    // tokenizer.ggml.merges is kept as a GGUFStringList: the same strings, decoded on request
    const m = new Enc();
    header(m, 0, 2);
    m.str('tokenizer.ggml.merges').u32(9).u32(8).u64(samples.length);
    for (const s of samples) m.u64(s.length).raw(s);
    m.str('after').u32(4).u32(7); // the reader goes on after the list
    const f = readGGUF(m.bytes());
    const list = f.metadata.get('tokenizer.ggml.merges');
    expect(list).toBeInstanceOf(GGUFStringList);
    const merges = list as GGUFStringList;
    expect(merges.length).toBe(samples.length);
    expect(merges.toArray()).toEqual(got);
    expect([...merges]).toEqual(got);
    expect(merges.at(-1)).toBe(got[got.length - 1]);
    expect(merges.at(samples.length)).toBeUndefined();
    expect(merges.at(1.5)).toBeUndefined();
    expect(f.metadata.get('after')).toBe(7);
    expect(f.metadataTypes.get('tokenizer.ggml.merges')).toEqual({ type: 9, itemType: 8 });
  });

  it('a merges list that runs past the end of the file is a FormatError naming the element', () => {
    const m = new Enc();
    header(m, 0, 1);
    m.str('tokenizer.ggml.merges').u32(9).u32(8).u64(3);
    m.str('a b').str('c d').u64(50).raw([0x61, 0x62]);
    expect(() => readGGUF(m.bytes())).toThrow(/'tokenizer.ggml.merges'\[2\].*string length 50 exceeds/);
    const n = new Enc();
    header(n, 0, 1);
    n.str('tokenizer.ggml.merges').u32(9).u32(8).u64(1000).str('a b');
    expect(() => readGGUF(n.bytes())).toThrow(/array of 1000 elements cannot fit/);
  });
});

describe.skipIf(!haveStories)('openModelFile on corrupted GGUF headers (../shared absent → skipped)', () => {
  it('either opens and serves every tensor, or throws FormatError; never a crash or a TypeError', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { openModelFile } = await import('../../ts/formats/model-file.js');
    const src = new Uint8Array(readFileSync(join(storiesDir, 'stories260K-q8_0.gguf')));
    const headerEnd = readGGUF(src).dataOffset;
    const dir = mkdtempSync(join(tmpdir(), 'tl-fuzz-'));
    const rand = rng(2024);
    let opened = 0;
    try {
      for (let iter = 0; iter < 300; iter++) {
        const copy = src.slice();
        const flips = 1 + Math.floor(rand() * 3);
        for (let k = 0; k < flips; k++) copy[Math.floor(rand() * headerEnd)] = Math.floor(rand() * 256);
        const p = join(dir, `f${iter}.gguf`);
        writeFileSync(p, copy);
        try {
          using m = openModelFile(p);
          for (const [name, e] of m.tensors) {
            if (e.shape.length >= 2) m.weights(name);
            else m.vector(name);
          }
          opened++;
        } catch (err) {
          expect(err, String(err)).toBeInstanceOf(FormatError);
        }
        rmSync(p);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(opened).toBeGreaterThan(10); // many flips land in token strings and stay valid
  });
});
