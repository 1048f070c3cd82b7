/**
 * gemma4 (E2B/E4B-style) on the tiny random model of scripts/make-random-model.ts (GEMMA4_TINY:
 * 6 layers [S, S, G, S, S, G], the last 3 reading the K/V of layers 1 and 2, sliding window 8,
 * per-layer head sizes and KV head counts, double-wide MLP in the shared layers, per-layer inputs,
 * proportional RoPE on the global layers) against llama.cpp through node-llama-cpp:
 * - several prompts (one far past the window) teacher-forced on llama.cpp's greedy tokens with its
 *   attention in f32 (KV cache f32, flash attention off): every step's logits within 1e-3 of the
 *   logit range (measured 7.5e-4; 1.4e-4 with ggml's f16-table GELU emulated), the same top-1 for
 *   32 steps;
 * - free-running greedy decoding: the same 32 ids as llama.cpp's;
 * - the KV-shared layers hold no cache of their own; JS and native backends agree; f16 KV cache;
 * - the batching server gives what generate gives, alone and batched with 15 others;
 * - bad input names the tensor or key.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GEMMA4_TINY, makeRandomModel } from '../../scripts/make-random-model.js';
import { getBackend } from '../../ts/backend/index.js';
import { u32 } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel } from '../../ts/generate/model.js';
import { buildTransformer } from '../../ts/models/registry.js';
import { allLogits, expectBatchingEqualsGenerate, jsNativeDiff, loadError, nativeAvailable, rewriteGGUF, tokenByTokenDiff, type GGUFEdit } from './helpers.js';
import { oracleGreedy, oracleMissing, oraclePath, teacherForced } from './llama-cpp-oracle.js';

const STEPS = 32;
const SEED = 4;
const PROMPTS: number[][] = [
  [1, 17, 42, 99, 7],
  Array.from({ length: 40 }, (_, i) => (i * 37 + 5) % 511), // five windows long
  [300, 301, 5, 77, 77, 77, 200, 13, 8, 450, 9, 2],
];

const dir = mkdtempSync(join(tmpdir(), 'tl-gemma4-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const path = join(dir, 'gemma4.gguf');
makeRandomModel({ arch: 'gemma4', size: 'tiny', type: 'f32', seed: SEED, gguf: path });
const backendName = nativeAvailable() ? 'native' : 'js';

describe.skipIf(!oraclePath)(`gemma4 random model vs node-llama-cpp ${oraclePath ? '' : oracleMissing}`, () => {
  it(`${PROMPTS.length} prompts × ${STEPS} steps: llama.cpp's top-1 tokens, logits within 1e-3 of the range`, async () => {
    const f = openModelFile(path);
    try {
      const m = buildTransformer(f, getBackend(backendName));
      expect(m.config.family).toBe('gemma4');
      const { worst, distinct } = await teacherForced(m, path, PROMPTS, STEPS, true);
      console.log(`gemma4: max |Δlogit| vs llama.cpp = ${worst.toExponential(2)} of the logit range; ${distinct} distinct tokens`);
      expect(worst).toBeLessThan(1e-3);
      expect(distinct).toBeGreaterThan(8); // the model does not just repeat one token
      m.dispose();
    } finally {
      f.close();
    }
  });

  it(`free-running greedy decoding: llama.cpp's ${STEPS} ids (default f16 KV cache on both sides)`, async () => {
    const model = await loadModel(path, { worker: false, backend: backendName, kvCache: 'f16' });
    try {
      for (const prompt of [PROMPTS[0]!, PROMPTS[2]!]) {
        const theirs = await oracleGreedy(path, prompt, STEPS, { contextSize: 256, ignoreEog: true });
        const ours = await model.generate(prompt, { temperature: 0, maxTokens: STEPS, ignoreEos: true });
        expect(ours.tokens).toEqual(theirs.tokens);
      }
    } finally {
      await model.dispose();
    }
  });
});

describe('gemma4: the model as the file declares it', () => {
  it('per-layer shapes, and the KV-shared layers keep no cache of their own', () => {
    const f = openModelFile(path);
    try {
      const m = buildTransformer(f, getBackend(backendName), { contextLength: 64 });
      const g = GEMMA4_TINY;
      const c = m.config;
      expect(c.kvLayout!.sharedFrom).toEqual([null, null, null, 1, 1, 2]);
      expect(c.kvLayout!.shapes.map((s) => s.headDim)).toEqual(g.swa.map((s) => (s ? g.swaHeadDim : g.headDim)));
      expect(c.layerHiddenDims).toEqual([g.ffn, g.ffn, g.ffn, 2 * g.ffn, 2 * g.ffn, 2 * g.ffn]);
      // layers 0, 1 (sliding: 2 KV heads × 16) and 2 (global: 1 × 32): K and V, f32, 64 positions
      const own = (2 * 16 + 2 * 16 + 32) * 2 * 4 * 64;
      expect(m.cache.bytes).toBe(own);
      expect(m.cache.keys(4)).toBe(m.cache.keys(1));
      expect(m.cache.values(5)).toBe(m.cache.values(2));
    } finally {
      f.close();
    }
  });

  it.skipIf(!nativeAvailable())('JS and native backends agree (40 tokens, max |Δ| < 1e-4)', () => {
    const f = openModelFile(path);
    try {
      expect(jsNativeDiff(f, Int32Array.from(PROMPTS[1]!))).toBeLessThan(1e-4);
    } finally {
      f.close();
    }
  });

  it('a prompt in one chunk equals token-by-token decoding (KV sharing within a step and across steps)', () => {
    const f = openModelFile(path);
    try {
      const m = buildTransformer(f, getBackend(backendName));
      const ids = Int32Array.from(PROMPTS[1]!);
      expect(tokenByTokenDiff(m, ids, allLogits(m, ids))).toBeLessThan(1e-4);
    } finally {
      f.close();
    }
  });
});

describe('gemma4: the batching server equals generate', () => {
  it('16 requests alone, batched with the 15 others, and through generate agree', async () => {
    await expectBatchingEqualsGenerate(path, { requests: 16, maxTokens: 24, alone: true });
  });
});

/** The GGUF rewritten with edited metadata and tensors. */
const variant = (name: string, edit: GGUFEdit): string => rewriteGGUF(path, join(dir, `gemma4-${name}.gguf`), edit);

describe('gemma4: bad input names the tensor or key', () => {
  it('a missing per-layer input gate', async () => {
    const p = variant('no-inp-gate', (_, t) => t.splice(t.findIndex((x) => x.name === 'blk.2.inp_gate.weight'), 1));
    expect(await loadError(p, { backend: backendName })).toMatch(/blk\.2\.inp_gate\.weight/);
  });
  it('a per-layer token table of the wrong width', async () => {
    const p = variant('short-ple', (_, t) => {
      const x = t.find((x) => x.name === 'per_layer_token_embd.weight')!;
      x.dims = [40, 512];
      x.data = (x.data as Uint8Array).subarray(0, 40 * 512 * 4);
    });
    expect(await loadError(p, { backend: backendName })).toMatch(/per_layer_token_embd\.weight is \[512, 40\], expected \[512, 48\]/);
  });
  it('a global query projection sized for the sliding head', async () => {
    const p = variant('short-q', (_, t) => {
      const x = t.find((x) => x.name === 'blk.2.attn_q.weight')!;
      x.dims = [64, 64];
      x.data = (x.data as Uint8Array).subarray(0, 64 * 64 * 4);
    });
    expect(await loadError(p, { backend: backendName })).toMatch(/blk\.2\.attn_q\.weight is \[64, 64\], expected \[128, 64\]/);
  });
  it('shared_kv_layers that leave no sliding and global layer to share from', async () => {
    const p = variant('bad-shared', (meta) => meta.set('gemma4.attention.shared_kv_layers', u32(2)));
    expect(await loadError(p, { backend: backendName })).toMatch(/gemma4\.attention\.shared_kv_layers = 2/);
  });
  it('a sliding window larger than the context', async () => {
    const p = variant('big-window', (meta) => meta.set('gemma4.attention.sliding_window', u32(100000)));
    expect(await loadError(p, { backend: backendName })).toMatch(/gemma4\.attention\.sliding_window.*100000.*context/);
  });
});
