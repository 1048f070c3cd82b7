import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { f32ToF16 } from '../../ts/formats/dtype-convert.js';
import { getBackend } from '../../ts/backend/index.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { encodeGGUF } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { llamaCppGreedy, peersPath } from './oracles.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-q4-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** ggml's quantize_row_q4_0_ref, written from its description: d = (signed max-|x| value)/−8. */
function quantizeQ4_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / 32) * 18);
  for (let b = 0; b < x.length / 32; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[b * 32 + j]!;
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const h = f32ToF16(d);
    out[b * 18] = h & 0xff;
    out[b * 18 + 1] = h >> 8;
    const code = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[b * 18 + 2 + j] = code(x[b * 32 + j]!) | (code(x[b * 32 + 16 + j]!) << 4);
  }
  return out;
}

/** Q4_0 → Q8_0 with the same d and codes − 8: exact, so both files hold the same values. */
function q4_0ToQ8_0(src: Uint8Array): Uint8Array {
  const out = new Uint8Array((src.length / 18) * 34);
  for (let b = 0; b < src.length / 18; b++) {
    out[b * 34] = src[b * 18]!;
    out[b * 34 + 1] = src[b * 18 + 1]!;
    for (let j = 0; j < 16; j++) {
      const byte = src[b * 18 + 2 + j]!;
      out[b * 34 + 2 + j] = ((byte & 15) - 8) & 0xff;
      out[b * 34 + 18 + j] = ((byte >> 4) - 8) & 0xff;
    }
  }
  return out;
}

describe('Q4_0 tensors', () => {
  const src = join(dir, 'f32.gguf');
  makeRandomModel({ arch: 'llama', size: 'tiny', seed: 21, gguf: src });
  const bytes = new Uint8Array(readFileSync(src));
  const g = readGGUF(bytes);
  /** The same model with every matrix as Q4_0, or as the Q8_0 we convert that Q4_0 to. */
  const variant = (as: 'Q4_0' | 'Q8_0') => encodeGGUF({
    metadata: [...g.metadata].map(([k, v]) => [k, { ...g.metadataTypes.get(k)!, value: v }] as const),
    tensors: g.tensors.map((t) => {
      const raw = bytes.slice(t.offset, t.offset + t.byteLength);
      if (t.dims.length < 2) return { name: t.name, type: t.type, dims: t.dims, data: raw };
      const q4 = quantizeQ4_0(new Float32Array(raw.buffer));
      return { name: t.name, type: as, dims: t.dims, data: as === 'Q4_0' ? q4 : q4_0ToQ8_0(q4) };
    }),
  });
  const q4Path = join(dir, 'q4_0.gguf');
  const q8Path = join(dir, 'q4-as-q8_0.gguf');
  writeFileSync(q4Path, variant('Q4_0'));
  writeFileSync(q8Path, variant('Q8_0'));

  it('are served as Q4_0 weights in their own layout: views of the file, not copies', () => {
    using q4 = openModelFile(q4Path);
    let matrices = 0;
    for (const [name, e] of q4.tensors) {
      if (e.shape.length < 2) continue;
      expect(e.type).toBe('Q4_0');
      const w = q4.weights(name);
      expect(w.dtype).toBe('q4_0');
      expect(w.data.byteLength, name).toBe(e.byteLength);
      matrices++;
    }
    expect(matrices).toBeGreaterThan(0);
    expect(q4.copiedBytes()).toBe(0);
  });

  it('compute the same products as their exact Q8_0 conversion (both take Q8_0 activations)', () => {
    using q4 = openModelFile(q4Path);
    using q8 = openModelFile(q8Path);
    const js = getBackend('js');
    for (const [name, e] of q4.tensors) {
      if (e.shape.length < 2 || name.includes('embd')) continue;
      const w4 = q4.weights(name), w8 = q8.weights(name);
      const a = Float32Array.from({ length: 2 * w4.cols }, (_, i) => Math.sin(i * 0.37) * 3);
      const o4 = new Float32Array(2 * w4.rows), o8 = new Float32Array(2 * w4.rows);
      js.matmulT(o4, a, w4, 2);
      js.matmulT(o8, a, w8, 2);
      expect(o4, name).toEqual(o8);
    }
  });

  it.skipIf(!peersPath)('llama.cpp decodes the Q4_0 file and our Q8_0 conversion of it to the same 48 tokens (node-llama-cpp absent → skipped)', async () => {
    const a = await llamaCppGreedy(q4Path, 48, 1);
    const b = await llamaCppGreedy(q8Path, 48, 1);
    expect(a.length).toBe(48);
    expect(b).toEqual(a);
  });
});
