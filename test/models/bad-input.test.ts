/**
 * Bad model files and mismatched inputs give clear errors (naming what is wrong), through the
 * public loadModel — so the message also survives the trip back from the worker — and never
 * crash the process. Variants of a valid random-weight GGUF are written with the GGUF writer.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { loadModel } from '../../ts/generate/model.js';
import { writeSafetensors } from '../../ts/formats/safetensors-writer.js';
import { haveStories, nativeAvailable, shared, stories } from './helpers.js';

const backend = nativeAvailable() ? 'native' : 'js';
const dir = mkdtempSync(join(tmpdir(), 'tl-bad-input-'));
const good = join(dir, 'good.gguf');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Rewrites `good` with edited metadata and tensors. */
function variant(name: string, edit: (meta: Map<string, GGUFWriteValue>, tensors: GGUFWriteTensor[]) => void): string {
  const g = readGGUF(good);
  const bytes = readFileSync(good);
  const meta = new Map<string, GGUFWriteValue>();
  for (const [k, v] of g.metadata) {
    const t = g.metadataTypes.get(k)!;
    meta.set(k, { type: t.type, value: v, ...(t.itemType !== undefined ? { itemType: t.itemType } : {}) });
  }
  const tensors: GGUFWriteTensor[] = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
  edit(meta, tensors);
  const p = join(dir, `${name}.gguf`);
  writeGGUF(p, { metadata: meta, tensors });
  return p;
}

describe('bad input → clear errors', () => {
  beforeAll(() => {
    makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 3, gguf: good });
  });

  it('the unedited file loads and generates (the variants below differ only in what they break)', async () => {
    const m = await loadModel(good, { backend });
    try {
      expect((await m.generate([1, 2, 3], { temperature: 0, maxTokens: 4, ignoreEos: true })).tokens).toHaveLength(4);
    } finally {
      await m.dispose();
    }
  });

  it('unknown architecture (GGUF general.architecture)', async () => {
    const p = variant('mamba', (meta) => {
      for (const [k, v] of [...meta]) {
        if (k.startsWith('llama.')) {
          meta.delete(k);
          meta.set(`mamba.${k.slice(6)}`, v);
        }
      }
      meta.set('general.architecture', 'mamba');
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/unsupported architecture 'mamba'.*supported: llama/);
  });

  it('unknown architecture (Hugging Face config.json)', async () => {
    const hf = join(dir, 'hf-unknown');
    mkdirSync(hf);
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 64 }));
    writeSafetensors(join(hf, 'model.safetensors'), [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(loadModel(hf, { backend })).rejects.toThrow(/unsupported architecture 'MambaForCausalLM'/);
  });

  it('a missing tensor is named', async () => {
    const p = variant('missing', (_m, tensors) => {
      tensors.splice(tensors.findIndex((t) => t.name === 'blk.1.ffn_gate.weight'), 1);
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/blk\.1\.ffn_gate\.weight.*missing/);
  });

  it('a tensor of the wrong shape is named with its shape and the expected one', async () => {
    const p = variant('shape', (_m, tensors) => {
      const q = tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
      const k = tensors.find((t) => t.name === 'blk.0.attn_k.weight')!;
      k.dims = q.dims; // [64, 64] where [32, 64] is expected (2 of 4 KV heads)
      k.data = q.data;
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/layer 0 attention k is \[64, 64\], expected \[32, 64\]/);
  });

  it('inconsistent hyperparameters (heads not a multiple of KV heads)', async () => {
    const p = variant('heads', (meta) => {
      meta.set('llama.attention.head_count_kv', { type: 4, value: 3 });
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/not a multiple of 3 KV heads/);
  });

  it.skipIf(!haveStories)('a tokenizer whose vocabulary does not match the model', async () => {
    const vocab = join(shared, 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-llama-spm.gguf');
    await expect(loadModel(stories.bin, { backend, tokenizer: vocab })).rejects.toThrow(/tokenizer has 32000 tokens but the model's vocabulary is 512/);
  });

  it('a truncated file', async () => {
    const bytes = readFileSync(good);
    const p = join(dir, 'truncated.gguf');
    writeFileSync(p, bytes.subarray(0, bytes.length - 1000));
    await expect(loadModel(p, { backend })).rejects.toThrow(/outside the .*file|truncated/);
  });

  it('the process survives all of the above and still generates', async () => {
    const m = await loadModel(good, { backend, worker: false });
    try {
      expect((await m.generate([1], { temperature: 0, maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    } finally {
      await m.dispose();
    }
  });
});
