/**
 * Encoders (embedding models, rerankers) against llama.cpp (node-llama-cpp's embedding and
 * ranking contexts) on random-weight BERT GGUFs written by make-random-model --arch bert with the
 * bge WordPiece vocabulary: cosine ≥ 0.9999 for every pooling kind, reranker scores within 1e-3;
 * and the bad inputs of the embed API.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEmbeddingModel, type EmbeddingModel } from '../../ts/embed/index.js';
import { BGE_VOCAB, makeRandomEncoder, type EncoderArch, type EncoderPooling } from '../../scripts/make-random-encoder.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { u32, writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { peersModulePath } from '../formats/helpers.js';

/**
 * A random qwen3 GGUF (a decoder); a copy whose metadata adds `qwen3.pooling_type` = last (as
 * Qwen3-Embedding's); and a Qwen3-Reranker-shaped copy: pooling rank (4), two classifier labels and
 * a random `cls.output.weight` [2, dim] (a converted Qwen3-Reranker holds the LM head's yes/no rows).
 */
function qwen3Files(): { plain: string; embedder: string; reranker: string } {
  const plain = join(dir, 'qwen3.gguf');
  const embedder = join(dir, 'qwen3-embedding.gguf');
  const reranker = join(dir, 'qwen3-reranker.gguf');
  if (!existsSync(reranker)) {
    makeRandomModel({ arch: 'qwen3', size: 'tiny', seed: 4, gguf: plain });
    const bytes = new Uint8Array(readFileSync(plain));
    const g = readGGUF(bytes);
    const meta: [string, GGUFWriteValue][] = [...g.metadata].map(([k, v]) => [k, (typeof v === 'number' || typeof v === 'bigint' ? { type: g.metadataTypes.get(k)!.type, value: v } : v) as GGUFWriteValue]);
    const tensors = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
    writeGGUF(embedder, { metadata: [...meta, ['qwen3.pooling_type', u32(3)]], tensors });
    const dim = Number(g.metadata.get('qwen3.embedding_length'));
    let seed = 7;
    const cls = Float32Array.from({ length: 2 * dim }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) * 0.5);
    writeGGUF(reranker, {
      metadata: [...meta, ['qwen3.pooling_type', u32(4)], ['qwen3.classifier.output_labels', ['yes', 'no']], ['tokenizer.chat_template.rerank', RERANK_TEMPLATE]],
      tensors: [...tensors, { name: 'cls.output.weight', type: 'F32' as const, dims: [dim, 2], data: new Uint8Array(cls.buffer) }],
    });
  }
  return { plain, embedder, reranker };
}

/** Qwen3-Reranker's prompt shape (GGUF `tokenizer.chat_template.rerank`): markup around {query} and {document}. */
const RERANK_TEMPLATE = '<|im_start|>user\n<Query>: {query}\n<Document>: {document}<|im_end|>\n<|im_start|>assistant\n';

const haveVocab = existsSync(BGE_VOCAB);
const peers = peersModulePath();
const dir = mkdtempSync(join(tmpdir(), 'tl-encoder-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TEXTS = [
  'hello world',
  'The quick brown fox jumps over the lazy dog.',
  'a',
  'Embeddings turn text into vectors; similar texts get similar vectors, which is what search and RAG need.',
  'Café naïve résumé 東京',
];

function model(pooling: EncoderPooling, arch: EncoderArch = 'bert', seed = 3): string {
  const p = join(dir, `${arch}-${pooling}.gguf`);
  if (!existsSync(p)) makeRandomEncoder({ arch, size: 'tiny', pooling, seed, gguf: p });
  return p;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

interface LlamaModel {
  tokenize(t: string, special?: boolean): number[];
  createEmbeddingContext(o: object): Promise<{ getEmbeddingFor(i: number[] | string): Promise<{ vector: readonly number[] }>; dispose(): Promise<void> }>;
  createRankingContext(o: object): Promise<{ rank(q: string | number[], d: string | number[]): Promise<number>; dispose(): Promise<void> }>;
  dispose(): Promise<void>;
}
interface Llama {
  loadModel(o: { modelPath: string }): Promise<LlamaModel>;
}

describe.skipIf(!haveVocab)(`encoders (bge vocabulary ${haveVocab ? 'present' : 'absent → skipped'})`, () => {
  describe.skipIf(!peers)('vs llama.cpp (node-llama-cpp absent → skipped)', () => {
    let llama: Llama;
    beforeAll(async () => {
      const mod = (await import(pathToFileURL(peers!).href)) as { getLlama(o: object): Promise<Llama> };
      llama = await mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'disabled' });
    });

    for (const pooling of ['mean', 'cls', 'last'] as const) {
      it(`bert, ${pooling} pooling: cosine ≥ 0.9999 with llama.cpp's embedding of the same tokens, all texts in one packed batch`, async () => {
        const path = model(pooling);
        const lm = await llama.loadModel({ modelPath: path });
        const ctx = await lm.createEmbeddingContext({ contextSize: 128, threads: 1 });
        await using ours = await loadEmbeddingModel(path, { worker: pooling === 'mean' });
        try {
          expect(ours.info.embedding?.pooling).toBe(pooling);
          const vectors = await ours.embed(TEXTS);
          expect(vectors).toHaveLength(TEXTS.length);
          for (const [i, text] of TEXTS.entries()) {
            // the same token ids: [CLS] + llama.cpp's WordPiece + [SEP]
            const ids = [101, ...lm.tokenize(text), 102];
            const theirs = (await ctx.getEmbeddingFor(ids)).vector;
            expect(vectors[i]!.length).toBe(theirs.length);
            expect(cosine(vectors[i]!, theirs), `${pooling} ${JSON.stringify(text)}`).toBeGreaterThanOrEqual(0.9999);
            expect(Math.hypot(...vectors[i]!)).toBeCloseTo(1, 5); // normalized by default
          }
          // one text alone gives the same vector as inside the batch (no cross-talk between packed texts)
          const alone = await ours.embed(TEXTS[1]!);
          expect(cosine(alone[0]!, vectors[1]!)).toBeGreaterThan(0.999999);
        } finally {
          await ctx.dispose();
          await lm.dispose();
        }
      });
    }

    for (const [arch, pooling] of [['nomic-bert', 'mean'], ['nomic-bert', 'cls'], ['xlm-roberta', 'mean'], ['xlm-roberta', 'cls']] as const) {
      it(`${arch}, ${pooling} pooling: cosine ≥ 0.9999 with llama.cpp, and the same token ids`, async () => {
        const path = model(pooling, arch);
        const lm = await llama.loadModel({ modelPath: path });
        const ctx = await lm.createEmbeddingContext({ contextSize: 128, threads: 1 });
        await using ours = await loadEmbeddingModel(path, { worker: false });
        try {
          const vectors = await ours.embed(TEXTS);
          // [CLS] … [SEP] (WordPiece) or <s> … </s> (the Unigram vocabulary of xlm-roberta)
          const [first, last] = arch === 'xlm-roberta' ? [0, 2] : [101, 102];
          for (const [i, text] of TEXTS.entries()) {
            const ids = [first, ...lm.tokenize(text), last];
            const usage = await ours.embedWithUsage(ids);
            expect(cosine(usage.vectors[0]!, vectors[i]!), 'our tokenization = llama.cpp\'s').toBeGreaterThan(0.999999);
            const theirs = (await ctx.getEmbeddingFor(ids)).vector;
            expect(cosine(vectors[i]!, theirs), `${arch} ${pooling} ${JSON.stringify(text)}`).toBeGreaterThanOrEqual(0.9999);
          }
        } finally {
          await ctx.dispose();
          await lm.dispose();
        }
      });
    }

    it('qwen3 decoder embedder (last-token pooling, causal): cosine ≥ 0.9999 with llama.cpp, texts packed in one batch', async () => {
      const { embedder } = qwen3Files();
      const lm = await llama.loadModel({ modelPath: embedder });
      const ctx = await lm.createEmbeddingContext({ contextSize: 128, threads: 1 });
      await using ours = await loadEmbeddingModel(embedder, { worker: false });
      try {
        expect(ours.info.embedding?.pooling).toBe('last');
        const seqs = [[5, 9, 33, 100, 7], [1, 2, 3], Array.from({ length: 40 }, (_, i) => (i * 37) % 500)];
        const r = await ours.embedWithUsage(seqs);
        for (const [i, ids] of seqs.entries()) {
          const theirs = (await ctx.getEmbeddingFor(ids)).vector;
          expect(cosine(r.vectors[i]!, theirs), `sequence ${i}`).toBeGreaterThanOrEqual(0.9999);
        }
      } finally {
        await ctx.dispose();
        await lm.dispose();
      }
    });

    it("qwen3 decoder reranker (Qwen3-Reranker: last token → cls.output → softmax): scores within 1e-3 of llama.cpp's ranking context", async () => {
      const { reranker } = qwen3Files();
      const lm = await llama.loadModel({ modelPath: reranker });
      // the embedding context on a rank-pooling model returns the pooled head output: p(label 0) after
      // llama.cpp's softmax. Its input is llama-server's rerank prompt: the template with the texts
      // substituted, tokenized with special tokens parsed (node-llama-cpp's own ranking context
      // assembles template prompts differently, so the exact tokens go in here).
      const ctx = await lm.createEmbeddingContext({ contextSize: 256, threads: 1 });
      await using ours = await loadEmbeddingModel(reranker, { worker: false });
      try {
        expect(ours.info.capabilities).toEqual({ generate: true, embed: false, rank: true });
        const query = 'what is a fox';
        const docs = TEXTS.filter((t) => t.length < 60); // the tiny model's context is 256 byte-level tokens
        const scores = await ours.rank(query, docs);
        for (const [i, d] of docs.entries()) {
          const prompt = RERANK_TEMPLATE.replace('{query}', query).replace('{document}', d);
          const theirs = (await ctx.getEmbeddingFor(lm.tokenize(prompt, true))).vector;
          expect(theirs.length).toBe(2);
          expect(Math.abs(theirs[0]! + theirs[1]! - 1), 'softmax').toBeLessThan(1e-5);
          expect(Math.abs(1 / (1 + Math.exp(-scores[i]!)) - theirs[0]!), d).toBeLessThan(1e-3);
        }
        expect(new Set(scores.map((s) => s.toFixed(4))).size).toBeGreaterThan(1);
      } finally {
        await ctx.dispose();
        await lm.dispose();
      }
    });

    for (const arch of ['bert', 'xlm-roberta'] as const) it(`${arch} reranker (rank pooling): scores within 1e-3 of llama.cpp's ranking context`, async () => {
      const path = model('rank', arch);
      const lm = await llama.loadModel({ modelPath: path });
      const ctx = await lm.createRankingContext({ contextSize: 128, threads: 1 });
      await using ours = await loadEmbeddingModel(path, { worker: false });
      try {
        expect(ours.info.capabilities.rank).toBe(true);
        const query = 'what is a fox';
        const docs = TEXTS;
        const scores = await ours.rank(query, docs);
        for (const [i, d] of docs.entries()) {
          // token arrays: node-llama-cpp's rank() would otherwise tokenize with its own "trimLeadingSpace"
          // option (no SentencePiece dummy prefix), where llama-server and we tokenize plainly
          const theirs = await ctx.rank(lm.tokenize(query), lm.tokenize(d)); // sigmoid of the head's logit
          expect(Math.abs(1 / (1 + Math.exp(-scores[i]!)) - theirs), d).toBeLessThan(1e-3);
        }
        // not constant: the head sees the pair
        expect(new Set(scores.map((s) => s.toFixed(4))).size).toBeGreaterThan(1);
      } finally {
        await ctx.dispose();
        await lm.dispose();
      }
    });
  });

  describe('bad input → clear errors', () => {
    let m: EmbeddingModel;
    beforeAll(async () => {
      m = await loadEmbeddingModel(model('mean'), { worker: true });
    });
    afterAll(() => m?.dispose());

    it('empty strings, an empty array, non-string entries', async () => {
      await expect(m.embed('')).rejects.toThrow(/input\[0\] is an empty string/);
      await expect(m.embed([])).rejects.toThrow(/input is an empty array/);
      await expect(m.embed(['ok', 42 as unknown as string])).rejects.toThrow(/input\[1\] must be a string/);
      await expect(m.embed(['ok', null as unknown as string])).rejects.toThrow(/input\[1\] must be a string.*null/);
      await expect(m.embed('x', { pooling: 'max' as 'mean' })).rejects.toThrow(/pooling must be one of/);
      await expect(m.embed('x', { dimensions: 1000 })).rejects.toThrow(/dimensions must be an integer in \[1, 64\]/);
    });

    it('a text over the context is an error unless truncate: true', async () => {
      const long = 'word '.repeat(300);
      await expect(m.embed(long)).rejects.toThrow(/302 tokens, more than the model's context of 128.*truncate: true/);
      const [v] = await m.embed(long, { truncate: true });
      expect(v!.length).toBe(64);
    });

    it('a generative model (no pooling declared) is refused with an error naming it', async () => {
      const { plain } = qwen3Files();
      await expect(loadEmbeddingModel(plain, { worker: false })).rejects.toThrow(/qwen3\.gguf: 'qwen3' is a generative model, not an embedding model.*qwen3\.pooling_type/);
    });

    it('a model that does not declare its pooling asks for one', async () => {
      await using none = await loadEmbeddingModel(model('none'), { worker: false });
      expect(none.info.embedding?.pooling).toBe(null);
      await expect(none.embed('hello')).rejects.toThrow(/does not say how to pool.*pooling: 'mean' \| 'cls' \| 'last'/);
      const [v] = await none.embed('hello', { pooling: 'cls' });
      expect(v!.length).toBe(64);
    });

    it('rank on a model without a classification head, and an aborted call', async () => {
      await expect(m.rank('q', ['d'])).rejects.toThrow(/not a reranker/);
      const ac = new AbortController();
      ac.abort();
      await expect(m.embed('hello', { signal: ac.signal })).rejects.toThrow(/aborted/);
      // the model still works afterwards
      expect((await m.embed('hello'))[0]!.length).toBe(64);
    });
  });
});
