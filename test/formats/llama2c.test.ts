import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../ts/formats/byte-source.js';
import { f32ToF16, quantizeQ8_0 } from '../../ts/formats/dtype-convert.js';
import { readLlama2c, readLlama2cTokenizer } from '../../ts/formats/llama2c.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { modelConfig } from '../../ts/models/registry.js';
import { haveStories, storiesDir } from './helpers.js';

const bin = join(storiesDir, 'stories260K.bin');
const tok = join(storiesDir, 'tok512.bin');
const gguf = (t: string) => join(storiesDir, `stories260K-${t}.gguf`);

describe.skipIf(!haveStories)('llama2.c stories260K vs the GGUFs llama.cpp converted from it (../shared absent → skipped)', () => {
  it('reads the header and both model views agree on the hyperparameters', () => {
    const m = readLlama2c(bin);
    expect(m.config).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, seqLen: 512, sharedClassifier: true });
    using a = openModelFile(bin);
    using b = openModelFile(gguf('f32'));
    const { architecture: aa, normEps: ea, ...ca } = modelConfig(a);
    const { architecture: ab, normEps: eb, ...cb } = modelConfig(b);
    expect(ca).toEqual(cb);
    expect([aa, ab]).toEqual(['llama2.c', 'llama']);
    expect(Math.fround(ea)).toBe(eb); // GGUF stores eps as f32
    expect(a.has('output.weight')).toBe(false); // vocab_size > 0 in the .bin header: shared classifier
    expect(b.has('output.weight')).toBe(true); // llama.cpp's converter stores a copy as output.weight
    expect(a.tokenizer).toEqual({ kind: 'llama2c', path: tok });
    expect(b.tokenizer.kind).toBe('gguf');
  });

  it('every tensor equals the f32 GGUF bit for bit (no Q/K permutation: both are interleaved)', () => {
    using a = openModelFile(bin);
    using b = openModelFile(gguf('f32'));
    expect(a.tensors.size).toBe(b.tensors.size - 1);
    for (const [name, e] of a.tensors) {
      const wa = a.weights(name);
      const wb = b.weights(name);
      expect([wa.rows, wa.cols], name).toEqual([wb.rows, wb.cols]);
      expect(e.shape, name).toEqual(b.tensors.get(name)!.shape);
      expect(Buffer.compare(new Uint8Array(wa.data.buffer, wa.data.byteOffset, wa.data.byteLength), new Uint8Array(wb.data.buffer, wb.data.byteOffset, wb.data.byteLength)), name).toBe(0);
    }
    expect(b.vector('output.weight')).toEqual(a.vector('token_embd.weight'));
  });

  it('f16 GGUF holds our round-to-nearest-even f16 of every weight; q8_0 GGUF our Q8_0 blocks', () => {
    using a = openModelFile(bin);
    using h = openModelFile(gguf('f16'));
    using q = openModelFile(gguf('q8_0'));
    let f16Count = 0;
    let q8Count = 0;
    for (const name of a.tensors.keys()) {
      const src = a.vector(name);
      for (const other of [h, q]) {
        const w = other.weights(name);
        if (w.dtype === 'f16') {
          expect(Array.from(w.data), `${name} f16`).toEqual(Array.from(src, f32ToF16));
          f16Count++;
        } else if (w.dtype === 'q8_0') {
          expect(Buffer.compare(w.data as Uint8Array, quantizeQ8_0(src)), `${name} q8_0`).toBe(0);
          q8Count++;
        } else {
          expect(Array.from(w.data), `${name} f32`).toEqual(Array.from(src));
        }
      }
    }
    expect(f16Count).toBeGreaterThan(20);
    expect(q8Count).toBeGreaterThan(20);
  });

  it('reads tok512.bin: the GGUF vocabulary is the same pieces (▁ for space, plain specials)', () => {
    const t = readLlama2cTokenizer(tok, 512);
    expect(t.tokens.length).toBe(512);
    using g = openModelFile(gguf('f32'));
    const tokens = g.gguf!.metadata.get('tokenizer.ggml.tokens') as string[];
    const scores = g.gguf!.metadata.get('tokenizer.ggml.scores') as Float32Array;
    expect(t.tokens.slice(0, 3)).toEqual(['<unk>', '\n<s>\n', '\n</s>\n']);
    for (let i = 3; i < 512; i++) expect(tokens[i], `token ${i}`).toBe(t.tokens[i]!.replaceAll(' ', '\u2581'));
    expect(Array.from(t.scores)).toEqual(Array.from(scores));
    expect(() => readLlama2cTokenizer(tok, 400)).toThrow(/bytes left after 400 tokens/);
    expect(() => readLlama2cTokenizer(tok, 600)).toThrow(FormatError);
  });

  it('rejects truncated or extended files and lying headers', () => {
    const bytes = new Uint8Array(readFileSync(bin));
    for (const cut of [0, 3, 27, 28, 1000, bytes.length - 4, bytes.length - 1]) {
      expect(() => readLlama2c(bytes.subarray(0, cut)), `cut ${cut}`).toThrow(FormatError);
    }
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    expect(() => readLlama2c(longer)).toThrow(/unexpected bytes after the weights/);
    const lie = (field: number, value: number) => {
      const c = bytes.slice();
      new DataView(c.buffer).setInt32(field * 4, value, true);
      return () => readLlama2c(c);
    };
    expect(lie(0, 65)).toThrow(/not a multiple of n_heads|needs \d+ bytes/);
    expect(lie(2, 6)).toThrow(/needs \d+ bytes of weights/);
    expect(lie(3, 0)).toThrow(/n_heads/);
    expect(lie(4, 3)).toThrow(/not a multiple of n_kv_heads/);
    expect(lie(5, 0)).toThrow(/vocab_size/);
    expect(lie(5, -512)).toThrow(/needs \d+ bytes/); // separate classifier declared but absent
    expect(lie(6, -1)).toThrow(/seq_len/);
    expect(lie(1, 0x7fffffff)).toThrow(/hidden_dim/);
  });
});
