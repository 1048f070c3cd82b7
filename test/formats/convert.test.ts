import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { permuteHalfToInterleaved } from '../../ts/formats/convert.js';
import { convertModel } from '../../ts/models/convert.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { run as convertCli } from '../../ts/cli/convert.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { haveStories, storiesDir } from './helpers.js';
import { haveTorch, llamaCppGreedy, peersPath, torchGreedy } from './oracles.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(storiesDir, 'stories260K.bin');
const ref = (t: string) => join(storiesDir, `stories260K-${t}.gguf`);

function plain(v: unknown): unknown {
  return ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<unknown>) : v;
}

describe.skipIf(!haveStories)('convert stories260K.bin + tok512.bin (../shared absent → skipped)', () => {
  const outs: Record<string, string> = {};
  for (const type of ['f32', 'f16', 'q8_0'] as const) {
    it(`--type ${type}: same metadata and tensor bytes as llama.cpp's converter wrote`, () => {
      const out = join(dir, `s-${type}.gguf`);
      using m = openModelFile(bin);
      convertModel(m, out, { type, name: 'stories260K' });
      outs[type] = out;
      const ours = readGGUF(out);
      const theirs = readGGUF(ref(type));
      for (const [k, v] of theirs.metadata) {
        expect(plain(ours.metadata.get(k)), k).toEqual(plain(v));
        expect(ours.metadataTypes.get(k), k).toEqual(theirs.metadataTypes.get(k));
      }
      const ob = readFileSync(out);
      const tb = readFileSync(ref(type));
      // llama.cpp stores a copy of the tied embedding as output.weight; we keep it tied.
      expect(ours.tensors.map((t) => t.name).sort()).toEqual(theirs.tensors.map((t) => t.name).filter((n) => n !== 'output.weight').sort());
      for (const t of ours.tensors) {
        const u = theirs.tensors.find((x) => x.name === t.name)!;
        expect(t.type, t.name).toBe(u.type);
        expect(t.dims, t.name).toEqual(u.dims);
        expect(Buffer.compare(ob.subarray(t.offset, t.offset + t.byteLength), tb.subarray(u.offset, u.offset + u.byteLength)), t.name).toBe(0);
      }
    });
  }

  it.skipIf(!peersPath)('llama.cpp greedy-decodes our f32 and q8_0 files to the same 200 tokens as the reference files (node-llama-cpp absent → skipped)', async () => {
    for (const type of ['f32', 'q8_0']) {
      const ours = await llamaCppGreedy(outs[type]!, 200);
      const theirs = await llamaCppGreedy(ref(type), 200);
      expect(ours.length).toBe(200);
      expect(ours, type).toEqual(theirs);
    }
  });

  it('the CLI converts, and refuses bad arguments with exit code 2', async () => {
    const out = join(dir, 'cli.gguf');
    expect(await convertCli([bin, out, '--type', 'f16', '--quiet'])).toBe(0);
    expect(readGGUF(out).tensors.length).toBe(47);
    expect(await convertCli([bin, out, '--quiet'])).toBe(2); // exists, no --force
    expect(await convertCli([bin, join(dir, 'x.gguf'), '--type', 'q4'])).toBe(2);
    expect(await convertCli([bin, join(dir, 'x.bin')])).toBe(2);
    expect(await convertCli([bin])).toBe(2);
    await expect(convertCli([join(dir, 'missing.bin'), join(dir, 'y.gguf')])).rejects.toThrow(/does not exist/);
  });
});

describe('permuteHalfToInterleaved', () => {
  it('moves row i + D/2 next to row i within each head, as llama.cpp permute does', () => {
    // 2 heads × D=4 rows, 1 column: rows labelled by index.
    const w = Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(Array.from(permuteHalfToInterleaved(w, 2, 1))).toEqual([0, 2, 1, 3, 4, 6, 5, 7]);
  });
});

describe('random Hugging Face models → GGUF, checked against a PyTorch reference', () => {
  for (const arch of ['llama', 'gpt2'] as const) {
    it.skipIf(!peersPath || !haveTorch)(`${arch}: llama.cpp on our f32 GGUF follows PyTorch on the HF weights for 48 greedy steps (node-llama-cpp or torch absent → skipped)`, async () => {
      const hf = join(dir, `${arch}-hf`);
      const gguf = join(dir, `${arch}.gguf`);
      makeRandomModel({ arch, size: 'tiny', seed: 7, hf, gguf });
      const start = arch === 'gpt2' ? 511 : 1;
      const expected = torchGreedy(hf, start, 48);
      expect(new Set(expected).size, 'the reference output should not be one repeated token').toBeGreaterThan(3);
      expect(await llamaCppGreedy(gguf, 48, start)).toEqual(expected);
    });
  }
});
