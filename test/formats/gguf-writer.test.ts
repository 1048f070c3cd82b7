import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GGUFStringList, readGGUF } from '../../ts/formats/gguf.js';
import { encodeGGUF, f32, f64, i16, i32, i64, i8, u16, u32, u64, u8 } from '../../ts/formats/gguf-writer.js';
import { quantizeQ8_0, f32ArrayToF16 } from '../../ts/formats/dtype-convert.js';
import { sharedGGUFs } from './helpers.js';

describe('GGUF writer', () => {
  it.skipIf(sharedGGUFs().length === 0)('rewrites every llama.cpp-written shared GGUF byte for byte (../shared absent → skipped)', () => {
    for (const p of sharedGGUFs()) {
      const bytes = new Uint8Array(readFileSync(p));
      const g = readGGUF(bytes);
      const out = encodeGGUF({
        metadata: [...g.metadata].map(([k, v]) => [k, { ...g.metadataTypes.get(k)!, value: v }] as const),
        tensors: g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) })),
        alignment: g.alignment,
      });
      expect(out.length, p).toBe(bytes.length);
      expect(Buffer.compare(out, bytes), p).toBe(0);
    }
  });

  it('writes every value type and tensor type so the reader returns the same values', () => {
    const weights = Float32Array.from({ length: 96 }, (_, i) => Math.cos(i) * 2);
    const q8 = quantizeQ8_0(weights);
    const h = f32ArrayToF16(weights);
    const bytes = encodeGGUF({
      metadata: [
        ['a.u8', u8(255)], ['a.i8', i8(-128)], ['a.u16', u16(65535)], ['a.i16', i16(-1)], ['a.u32', u32(4294967295)], ['a.i32', i32(-5)],
        ['a.f32', f32(0.1)], ['a.f64', f64(0.1)], ['a.u64', u64(2n ** 64n - 1n)], ['a.i64', i64(-(2n ** 63n))], ['a.u64s', u64(7)],
        ['a.bool', false], ['a.str', 'ünïcode ✓'],
        ['arr.f32', Float32Array.of(1, 2.5)], ['arr.i64', BigInt64Array.of(-1n, 5n)], ['arr.u8', Uint8Array.of(1, 2, 3)],
        ['arr.str', ['x', '', 'yz']], ['arr.bool', [true, false]], ['arr.nested', [Int32Array.of(1), ['s']]],
        ['arr.emptyStr', { type: 9, itemType: 8, value: [] }],
      ],
      tensors: [
        { name: 'f', type: 'F32', dims: [32, 3], data: weights },
        { name: 'h', type: 'F16', dims: [96], data: h },
        { name: 'q', type: 'Q8_0', dims: [32, 3], data: () => q8 },
      ],
      alignment: 64,
    });
    const g = readGGUF(bytes);
    const m = g.metadata;
    expect([m.get('a.u8'), m.get('a.i8'), m.get('a.u16'), m.get('a.i16'), m.get('a.u32'), m.get('a.i32')]).toEqual([255, -128, 65535, -1, 4294967295, -5]);
    expect(m.get('a.f32')).toBe(Math.fround(0.1));
    expect(m.get('a.f64')).toBe(0.1);
    expect(m.get('a.u64')).toBe(2n ** 64n - 1n);
    expect(m.get('a.i64')).toBe(-(2n ** 63n));
    expect(m.get('a.u64s')).toBe(7);
    expect(m.get('a.bool')).toBe(false);
    expect(m.get('a.str')).toBe('ünïcode ✓');
    expect(m.get('arr.f32')).toEqual(Float32Array.of(1, 2.5));
    expect(m.get('arr.i64')).toEqual(BigInt64Array.of(-1n, 5n));
    expect(m.get('arr.u8')).toEqual(Uint8Array.of(1, 2, 3));
    expect(m.get('arr.str')).toEqual(['x', '', 'yz']);
    expect(m.get('arr.bool')).toEqual([true, false]);
    expect(m.get('arr.nested')).toEqual([Int32Array.of(1), ['s']]);
    expect(m.get('arr.emptyStr')).toEqual([]);
    expect(m.get('general.alignment')).toBe(64);
    expect(g.alignment).toBe(64);
    const [f, hh, q] = g.tensors;
    expect(f!.offset % 64).toBe(0);
    expect(hh!.offset % 64).toBe(0);
    expect(Buffer.compare(bytes.subarray(f!.offset, f!.offset + f!.byteLength), new Uint8Array(weights.buffer))).toBe(0);
    expect(Buffer.compare(bytes.subarray(hh!.offset, hh!.offset + hh!.byteLength), new Uint8Array(h.buffer))).toBe(0);
    expect(Buffer.compare(bytes.subarray(q!.offset, q!.offset + q!.byteLength), q8)).toBe(0);
  });

  it('writes a merges list read from a GGUF back as the same string array', () => {
    const merges = ['Ġ t', 'h e', 'Ġt he', '▁ ☃'];
    const first = readGGUF(encodeGGUF({ metadata: [['tokenizer.ggml.merges', merges]], tensors: [] }));
    const list = first.metadata.get('tokenizer.ggml.merges');
    expect(list).toBeInstanceOf(GGUFStringList);
    // as the value alone, and with the stored types (as convert copies tokenizer keys)
    for (const value of [list!, { ...first.metadataTypes.get('tokenizer.ggml.merges')!, value: list! }]) {
      const again = readGGUF(encodeGGUF({ metadata: [['tokenizer.ggml.merges', value]], tensors: [] }));
      expect((again.metadata.get('tokenizer.ggml.merges') as GGUFStringList).toArray()).toEqual(merges);
    }
    expect(() => encodeGGUF({ metadata: [['m', { type: 9, itemType: 5, value: list! }]], tensors: [] })).toThrow(/does not match type/);
  });

  it('refuses ambiguous or inconsistent input with clear errors', () => {
    const t = (data: ArrayBufferView, type: 'F32' | 'Q8_0' = 'F32', dims = [4]) => () => encodeGGUF({ metadata: [], tensors: [{ name: 't', type, dims, data }] });
    expect(() => encodeGGUF({ metadata: [['n', 3]], tensors: [] })).toThrow(/plain number is ambiguous/);
    expect(() => encodeGGUF({ metadata: [['n', u8(256)]], tensors: [] })).toThrow(/does not match type/);
    expect(() => encodeGGUF({ metadata: [['n', [1, 'a'] as unknown as string[]]], tensors: [] })).toThrow(/arrays must hold/);
    expect(() => encodeGGUF({ metadata: [['k', 'a'], ['k', 'b']], tensors: [] })).toThrow(/given twice/);
    expect(t(new Float32Array(3))).toThrow(/needs 16/);
    expect(t(new Uint8Array(34), 'Q8_0', [16])).toThrow(/block size 32/);
    expect(t(new Float32Array(4), 'F32', [1, 1, 1, 1, 4])).toThrow(/1\.\.4/);
    expect(() => encodeGGUF({ metadata: [], tensors: [], alignment: 24 })).toThrow(/power of two/);
  });
});
