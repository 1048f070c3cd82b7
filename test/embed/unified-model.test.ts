/**
 * One model object per loaded file: `loadModel` returns the same Model for decoders, encoders and
 * decoder embedders; it generates and/or embeds/ranks as the file allows (`info.capabilities`),
 * and refuses the other side with an error naming the model, without crashing its worker.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/index.js';
import { loadEmbeddingModel } from '../../ts/embed/index.js';
import { isEmbeddingModel } from '../../ts/cli/serve-embeddings.js';
import { BGE_VOCAB, makeRandomEncoder } from '../../scripts/make-random-encoder.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { u32, writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-unified-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A random qwen3 GGUF, and a copy whose metadata adds `qwen3.pooling_type` = last (Qwen3-Embedding). */
function qwen3Files(): { plain: string; embedder: string } {
  const plain = join(dir, 'qwen3.gguf');
  const embedder = join(dir, 'qwen3-embedding.gguf');
  if (!existsSync(embedder)) {
    makeRandomModel({ arch: 'qwen3', size: 'tiny', seed: 4, gguf: plain });
    const bytes = new Uint8Array(readFileSync(plain));
    const g = readGGUF(bytes);
    const meta: [string, GGUFWriteValue][] = [...g.metadata].map(([k, v]) => [k, (typeof v === 'number' || typeof v === 'bigint' ? { type: g.metadataTypes.get(k)!.type, value: v } : v) as GGUFWriteValue]);
    meta.push(['qwen3.pooling_type', u32(3)]);
    writeGGUF(embedder, { metadata: meta, tensors: g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) })) });
  }
  return { plain, embedder };
}

describe('decoders: generate, and embed only when the file declares a pooling', () => {
  it('a plain decoder generates; embed and rank are refused naming the model; the worker keeps working', async () => {
    const { plain } = qwen3Files();
    await using m = await loadModel(plain);
    expect(m.info.capabilities).toEqual({ generate: true, embed: false, rank: false });
    expect(m.info.embedding).toBe(null);
    await expect(m.embed('hello')).rejects.toThrow(/qwen3\.gguf: 'qwen3' is a generative model, not an embedding model; it cannot embed/);
    await expect(m.rank('q', ['d'])).rejects.toThrow(/qwen3\.gguf: 'qwen3' is a generative model.*cannot rank/);
    const r = await m.generate([1, 2, 3], { maxTokens: 4, temperature: 0 });
    expect(r.tokens.length).toBe(4);
    await expect(loadEmbeddingModel(plain, { worker: false })).rejects.toThrow(/'qwen3' is a generative model, not an embedding model.*qwen3\.pooling_type/);
  });

  it('a decoder embedder (Qwen3-Embedding) embeds, and the same handle generates exactly what the plain decoder does', async () => {
    const { plain, embedder } = qwen3Files();
    await using e = await loadModel(embedder); // one worker for both sides
    await using p = await loadModel(plain, { worker: false });
    expect(e.info.capabilities).toEqual({ generate: true, embed: true, rank: false });
    expect(e.info.embedding).toMatchObject({ pooling: 'last', reranker: false, dimensions: e.info.config.dim });
    const [v] = await e.embed('hello world');
    expect(v!.length).toBe(e.info.config.dim);
    expect(Math.hypot(...v!)).toBeCloseTo(1, 5);
    // the generation side is built on first use from the same weights: same greedy tokens
    const a = await e.generate([1, 2, 3], { maxTokens: 8, temperature: 0 });
    const b = await p.generate([1, 2, 3], { maxTokens: 8, temperature: 0 });
    expect(a.tokens).toEqual(b.tokens);
    // and embedding still works after generating (the two sides share nothing mutable)
    const [w] = await e.embed('hello world');
    expect(Array.from(w!)).toEqual(Array.from(v!));
    // `tensorloom serve` gives it the embeddings endpoints, the plain decoder the completions ones
    expect(isEmbeddingModel(embedder)).toBe(true);
    expect(isEmbeddingModel(plain)).toBe(false);
  });
});

describe.skipIf(!existsSync(BGE_VOCAB))(`encoders through loadModel (bge vocabulary ${existsSync(BGE_VOCAB) ? 'present' : 'absent → skipped'})`, () => {
  function encoder(pooling: 'mean' | 'rank'): string {
    const p = join(dir, `bert-${pooling}.gguf`);
    if (!existsSync(p)) makeRandomEncoder({ arch: 'bert', size: 'tiny', pooling, seed: 3, gguf: p });
    return p;
  }

  for (const worker of [true, false]) {
    it(`a BERT embeds and refuses generate/stream/chat with "is an encoder" (worker: ${worker})`, async () => {
      await using m = await loadModel(encoder('mean'), { worker });
      expect(m.info.capabilities).toEqual({ generate: false, embed: true, rank: false });
      expect(m.info.kvCache).toBe(null);
      await expect(m.generate('hi')).rejects.toThrow(/bert-mean\.gguf: 'bert' is an encoder; it embeds but cannot generate/);
      const s = m.stream('hi');
      await expect(s.result).rejects.toThrow(/is an encoder; it embeds but cannot generate/);
      await expect(m.rank('q', ['d'])).rejects.toThrow(/not a reranker/);
      const vs = await m.embed(['a cat sat', 'a feline was sitting', 'x'], { normalize: false });
      expect(vs.map((v) => v.length)).toEqual([64, 64, 64]);
      // encode works on an encoder too (its tokenizer's own special tokens: [CLS] … [SEP])
      const ids = await m.encode('a cat sat');
      expect(ids.length).toBeGreaterThan(2);
    });
  }

  it('worker and in-process handles give the same vectors and scores (one protocol for both sides)', async () => {
    await using w = await loadModel(encoder('rank'));
    await using l = await loadModel(encoder('rank'), { worker: false });
    expect(w.info.capabilities).toEqual({ generate: false, embed: false, rank: true });
    const docs = ['the fox', 'a dog barks', 'lorem ipsum'];
    expect(await w.rank('what is a fox', docs)).toEqual(await l.rank('what is a fox', docs));
    // a reranker still embeds when a pooling is given, and refuses without one
    await expect(w.embed('x')).rejects.toThrow(/reranker.*use rank/);
    expect((await w.embed('x', { pooling: 'cls' }))[0]!.length).toBe(64);
    const ac = new AbortController();
    ac.abort();
    await expect(w.rank('q', docs, { signal: ac.signal })).rejects.toThrow(/ranking was aborted/);
  });
});
