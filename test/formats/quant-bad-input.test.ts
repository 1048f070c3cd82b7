/**
 * Bad quantized tensors give a clear error naming the tensor, never a crash: a row length that
 * is not whole blocks of its type, a truncated tensor, an unknown type id, and a GGML type
 * tensorloom has no kernels for. Variants of a valid tiny Q4_K/Q6_K model, patched in its header.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { convertModel } from '../../ts/models/convert.js';
import { quantizeRows } from '../../ts/backend/quants/index.js';
import { getBackend } from '../../ts/backend/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-quant-bad-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const good = join(dir, 'good.gguf');
const TARGET = 'blk.0.attn_q.weight';

/** Byte offset of a tensor's type id in the header (after its name, n_dims and dims). */
function typeIdOffset(bytes: Uint8Array, name: string): { dims: number; type: number } {
  const needle = Buffer.from(name);
  const at = Buffer.from(bytes).indexOf(needle);
  const nDims = new DataView(bytes.buffer, bytes.byteOffset).getUint32(at + needle.length, true);
  const dims = at + needle.length + 4;
  return { dims, type: dims + 8 * nDims };
}

function patched(name: string, patch: (bytes: Uint8Array, dv: DataView) => void): string {
  const bytes = new Uint8Array(readFileSync(good));
  patch(bytes, new DataView(bytes.buffer));
  const p = join(dir, `${name}.gguf`);
  writeFileSync(p, bytes);
  return p;
}

/** Opening the file, then reading every weight matrix, must fail with `pattern` naming the tensor. */
function expectClearError(path: string, pattern: RegExp): void {
  let err: unknown = null;
  try {
    using m = openModelFile(path);
    for (const [name, e] of m.tensors) if (e.shape.length >= 2) m.weights(name);
  } catch (e) {
    err = e;
  }
  expect(err, 'no error was thrown').toBeInstanceOf(Error);
  expect((err as Error).message).toMatch(pattern);
  expect((err as Error).message).toContain(TARGET);
}

describe('bad quantized tensors → clear errors naming the tensor', () => {
  beforeAll(() => {
    const f32 = join(dir, 'f32.gguf');
    makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 5, gguf: f32 });
    using m = openModelFile(f32);
    convertModel(m, good, { type: 'q4_0' });
  });

  it('the unpatched file opens and every matrix is served in its own type', () => {
    using m = openModelFile(good);
    expect(m.weights(TARGET).dtype).toBe('q4_0');
  });

  it('a row length that is not whole blocks (dims[0] 64 → 48 for Q4_0)', () => {
    const p = patched('rows', (b, dv) => dv.setBigUint64(typeIdOffset(b, TARGET).dims, 48n, true));
    expectClearError(p, /not a multiple of Q4_0's block size 32/);
  });

  it('a truncated file (the last tensor cut short)', () => {
    const bytes = readFileSync(good);
    const g = readGGUF(bytes);
    const last = [...g.tensors].sort((a, b) => b.offset - a.offset)[0]!;
    const p = join(dir, 'truncated.gguf');
    writeFileSync(p, bytes.subarray(0, last.offset + last.byteLength - 5));
    let err: Error | null = null;
    try { using m = openModelFile(p); void m; } catch (e) { err = e as Error; }
    expect(err?.message).toMatch(new RegExp(`tensor '${last.name.replaceAll('.', '\\.')}'.*outside the \\d+-byte file`));
  });

  it('an unknown type id (99)', () => {
    const p = patched('unknown', (b, dv) => dv.setUint32(typeIdOffset(b, TARGET).type, 99, true));
    expectClearError(p, /unknown ggml type id 99/);
  });

  it("a GGML type tensorloom cannot compute with (IQ2_XXS, valid size): the 'cannot compute with' error", () => {
    // a 256-wide tensor so IQ2_XXS (256-element blocks of 66 bytes) has a valid size
    const g = readGGUF(readFileSync(good));
    const meta = new Map<string, GGUFWriteValue>();
    for (const [k, v] of g.metadata) {
      const t = g.metadataTypes.get(k)!;
      meta.set(k, { type: t.type, value: v, ...(t.itemType !== undefined ? { itemType: t.itemType } : {}) });
    }
    const src = readFileSync(good);
    const tensors: GGUFWriteTensor[] = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: src.subarray(t.offset, t.offset + t.byteLength) }));
    const q = tensors.find((t) => t.name === TARGET)!;
    const rows = q.dims[1]!;
    q.type = 'IQ2_XXS';
    q.dims = [256, rows / 4];
    q.data = new Uint8Array((rows / 4) * 66);
    const p = join(dir, 'iq2.gguf');
    writeGGUF(p, { metadata: meta, tensors });
    expectClearError(p, /has type IQ2_XXS, which tensorloom cannot compute with \(supported: F32, F16, BF16, Q4_0/);
  });

  it('quantizing rows that are not whole blocks, or computing with too few bytes, is a RangeError naming the argument', () => {
    expect(() => quantizeRows('q4_k', new Float32Array(200), 100)).toThrow(/q4_k row holds whole blocks of 256 elements; 100 is not a multiple/);
    const w = { dtype: 'q4_k' as const, rows: 2, cols: 256, data: new Uint8Array(144 * 2 - 1) };
    expect(() => getBackend('js').matmulT(new Float32Array(2), new Float32Array(256), w, 1)).toThrow(/w\.data \(q4_k\) has 287 elements, expected 288/);
  });
});
