/**
 * Embeddings from an encoder-only T5 (`t5encoder`, as llama.cpp's converter writes a T5EncoderModel):
 * loadModel says it embeds and not generates; embed() pools its encoder output by the mean unless
 * the file declares a pooling, and L2-normalizes; per-token and pooled vectors checked against
 * llama.cpp's own encoder (bench/peers/llama-seq2seq.sh in embed mode: llama_encode with
 * embeddings on, no pooling) at cosine ≥ 0.9999. Tiny random models (ReLU and gated-GELU).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB } from '../../scripts/make-random-encoder.js';
import { makeRandomT5 } from '../../scripts/make-random-t5.js';
import { getBackend } from '../../ts/backend/index.js';
import { isEmbeddingModel } from '../../ts/cli/serve-embeddings.js';
import { CapabilityError } from '../../ts/errors/capability-error.js';
import { u32 } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import { buildEncoderDecoder } from '../../ts/models/registry.js';
import { repoRoot } from './helpers.js';
import { t5EncoderOnly } from './t5-helpers.js';

const haveVocab = existsSync(BGE_VOCAB);
const peerTool = join(repoRoot, 'bench', 'peers', 'llama-seq2seq.sh');
const havePeer = existsSync(join(repoRoot, 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'));
const dir = mkdtempSync(join(tmpdir(), 'tl-t5-embed-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TEXTS = ['the house is wonderful.', 'summarize: a', 'sentence number 3 talks about the weather, the river and the mountains.'];

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

function mean(rows: number[][]): number[] {
  return rows[0]!.map((_, d) => rows.reduce((s, r) => s + r[d]!, 0) / rows.length);
}

/** llama.cpp's per-token encoder output for `ids`. */
function llamaTokens(path: string, ids: number[]): number[][] {
  const toolTmp = join(tmpdir(), 'tl-t5-llama-seq2seq');
  mkdirSync(toolTmp, { recursive: true });
  const out = execFileSync(peerTool, [path, '0', ids.join(','), '1', 'embed'], { cwd: repoRoot, env: { ...process.env, TMPDIR: toolTmp }, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  return (JSON.parse(out.toString().trim()) as { embeddings: number[][] }).embeddings;
}

for (const arch of ['t5', 'flan-t5'] as const) {
  describe.skipIf(!haveVocab)(`t5encoder embeddings, ${arch} (${haveVocab ? 'bge vocabulary present' : `bge vocabulary absent (${BGE_VOCAB}) → skipped`})`, () => {
    const full = join(dir, `${arch}.gguf`);
    const enc = join(dir, `${arch}-encoder.gguf`);
    let model: Model;
    beforeAll(async () => {
      makeRandomT5({ arch, size: 'tiny', seed: arch === 't5' ? 21 : 22, gguf: full });
      t5EncoderOnly(full, enc);
      model = await loadModel(enc); // worker thread
    });
    afterAll(async () => model?.dispose());

    it('info: embeds (mean pooling: the file declares none), does not generate; generate and stream are CapabilityErrors', async () => {
      expect(model.info.config.family).toBe('t5encoder');
      expect(model.info.capabilities).toEqual({ generate: false, embed: true, rank: false });
      expect(model.info.embedding).toMatchObject({ dimensions: model.info.config.dim, pooling: 'mean', reranker: false });
      await expect(model.generate('the house')).rejects.toBeInstanceOf(CapabilityError);
      await expect(model.stream('the house').result).rejects.toBeInstanceOf(CapabilityError);
      await expect(model.rank('a', ['b'])).rejects.toThrow(/not a reranker/);
      // `tensorloom serve` takes the embeddings server for it (and the completions one for the full model)
      expect(isEmbeddingModel(enc)).toBe(true);
      expect(isEmbeddingModel(full)).toBe(false);
    });

    it('embed(): the normalized mean of the encoder output (the full model\'s encoder, JS backend); batches equal single texts', async () => {
      using mf = openModelFile(full);
      const ref = buildEncoderDecoder(mf, getBackend('js'));
      const vectors = await model.embed(TEXTS);
      expect(vectors).toHaveLength(TEXTS.length);
      for (const [i, text] of TEXTS.entries()) {
        const ids = await model.encode(text);
        expect(ids.at(-1), 'T5 inputs end with </s>').toBe(1);
        const h = ref.encodeHidden(Int32Array.from(ids));
        const rows = Array.from({ length: ids.length }, (_, t) => Array.from(h.subarray(t * ref.config.dim, (t + 1) * ref.config.dim)));
        const v = vectors[i]!;
        expect(cosine(v, mean(rows))).toBeGreaterThan(0.99999);
        expect(Math.hypot(...v)).toBeCloseTo(1, 5);
        // one at a time: the same vector (texts are encoded each on its own inside a packed call)
        const [alone] = await model.embed(text);
        expect(cosine(alone!, v)).toBeGreaterThan(0.999999);
        // other poolings on request; normalize: false keeps the scale
        const [first] = await model.embed(text, { pooling: 'cls', normalize: false });
        expect(cosine(first!, rows[0]!)).toBeGreaterThan(0.99999);
        expect(Math.hypot(...first!)).toBeCloseTo(Math.hypot(...rows[0]!), 2);
        const [last] = await model.embed(text, { pooling: 'last' });
        expect(cosine(last!, rows.at(-1)!)).toBeGreaterThan(0.99999);
      }
    });

    it.skipIf(!havePeer)(`per-token and pooled vectors against llama.cpp's encoder (cosine ≥ 0.9999) ${havePeer ? '' : '(node-llama-cpp not installed in bench/peers → skipped)'}`, async () => {
      using mf = openModelFile(enc);
      const ours = buildEncoderDecoder(mf, getBackend());
      for (const text of TEXTS) {
        const ids = await model.encode(text);
        const theirs = llamaTokens(enc, ids);
        expect(theirs).toHaveLength(ids.length);
        const bounds = Int32Array.of(0, ids.length);
        const h = ours.hidden(Int32Array.from(ids), bounds);
        const dim = ours.config.dim;
        theirs.forEach((row, t) => expect(cosine(h.subarray(t * dim, (t + 1) * dim), row), `token ${t} of ${JSON.stringify(text)}`).toBeGreaterThanOrEqual(0.9999));
        const [pooled] = (await model.embedWithUsage(ids)).vectors;
        expect(cosine(pooled!, mean(theirs))).toBeGreaterThanOrEqual(0.9999);
      }
    });
  });
}

describe.skipIf(!haveVocab)('t5encoder with a pooling key in the file', () => {
  it('takes the file\'s pooling (CLS) over the mean default', async () => {
    const full = join(dir, 'pooled-full.gguf');
    const enc = join(dir, 'pooled-encoder.gguf');
    makeRandomT5({ arch: 't5', size: 'tiny', seed: 23, gguf: full });
    t5EncoderOnly(full, enc, [['t5encoder.pooling_type', u32(2)]]); // llama.cpp's LLAMA_POOLING_TYPE_CLS
    const model = await loadModel(enc, { worker: false });
    try {
      expect(model.info.embedding?.pooling).toBe('cls');
      const [v] = await model.embed('the house is wonderful.');
      const [cls] = await model.embed('the house is wonderful.', { pooling: 'cls' });
      const [avg] = await model.embed('the house is wonderful.', { pooling: 'mean' });
      expect(Array.from(v!)).toEqual(Array.from(cls!));
      expect(cosine(v!, avg!)).toBeLessThan(0.999);
    } finally {
      await model.dispose();
    }
  });
});
