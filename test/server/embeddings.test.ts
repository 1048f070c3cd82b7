/**
 * POST /v1/embeddings and POST /v1/rerank over loopback HTTP on random-weight BERT GGUFs: the
 * responses carry the same vectors as the in-process API (OpenAI and llama-server/Jina shapes),
 * concurrent requests are batched without mixing their vectors up, bad input gets a 4xx naming the
 * field, and a generative model answers /v1/embeddings with a 400 naming the model.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB, makeRandomEncoder } from '../../scripts/make-random-encoder.js';
import { loadEmbeddingModel, type EmbeddingModel } from '../../ts/embed/index.js';
import { createEmbeddingServer, type EmbeddingServeHandler } from '../../ts/server/embeddings.js';
import { createServer } from '../../ts/server/http.js';
import { listen, post, toyEngine } from './helpers.js';

const haveVocab = existsSync(BGE_VOCAB);
const dir = mkdtempSync(join(tmpdir(), 'tl-embed-http-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!haveVocab)(`/v1/embeddings and /v1/rerank (bge vocabulary ${haveVocab ? 'present' : 'absent → skipped'})`, () => {
  let handler: EmbeddingServeHandler;
  let server: Server;
  let base: string;
  let local: EmbeddingModel;
  const path = join(dir, 'bert-mean.gguf');
  beforeAll(async () => {
    makeRandomEncoder({ arch: 'bert', size: 'tiny', pooling: 'mean', seed: 5, gguf: path });
    handler = await createEmbeddingServer({ model: path, modelId: 'bert-test' });
    ({ server, base } = await listen(handler));
    local = await loadEmbeddingModel(path, { worker: false });
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
    await local?.dispose();
  });

  it('returns the in-process vectors in OpenAI shape, float and base64, with usage', async () => {
    const texts = ['hello world', 'a longer sentence about foxes and dogs'];
    const want = await local.embed(texts);
    const r = await post(base, '/v1/embeddings', { input: texts, model: 'bert-test' });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('list');
    expect(r.json.model).toBe('bert-test');
    expect(r.json.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    for (const [i, d] of r.json.data.entries()) {
      expect(d.object).toBe('embedding');
      expect(d.embedding).toHaveLength(64);
      d.embedding.forEach((x: number, j: number) => expect(x).toBeCloseTo(want[i]![j]!, 6));
    }
    const tokens = (await local.embedWithUsage(texts)).tokens;
    expect(r.json.usage).toEqual({ prompt_tokens: tokens, total_tokens: tokens });
    const b = await post(base, '/v1/embeddings', { input: texts[0], encoding_format: 'base64' });
    const buf = Buffer.from(b.json.data[0].embedding as string, 'base64');
    const floats = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    expect(Array.from(floats)).toEqual(r.json.data[0].embedding.map((x: number) => Math.fround(x)));
  });

  it('dimensions truncates and renormalizes; token-array input works', async () => {
    const r = await post(base, '/v1/embeddings', { input: 'hello world', dimensions: 16 });
    expect(r.json.data[0].embedding).toHaveLength(16);
    expect(Math.hypot(...r.json.data[0].embedding)).toBeCloseTo(1, 5);
    const ids = [101, 7592, 2088, 102];
    const t = await post(base, '/v1/embeddings', { input: [ids, ids] });
    const s = await post(base, '/v1/embeddings', { input: 'hello world' });
    expect(t.status).toBe(200);
    expect(t.json.usage.prompt_tokens).toBe(8);
    t.json.data[1].embedding.forEach((x: number, j: number) => expect(x).toBeCloseTo(s.json.data[0].embedding[j], 6));
  });

  it('16 concurrent requests are batched and each gets its own vectors', async () => {
    const texts = Array.from({ length: 16 }, (_, i) => `request number ${i} with ${'word '.repeat(i)}`);
    const want = await local.embed(texts);
    const replies = await Promise.all(texts.map((t) => post(base, '/v1/embeddings', { input: [t, 'shared'] })));
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      r.json.data[0].embedding.forEach((x: number, j: number) => expect(x).toBeCloseTo(want[i]![j]!, 5));
    });
  });

  it('bad input → 400 naming the field, 404/405 for wrong routes', async () => {
    const cases: [unknown, RegExp, string][] = [
      [{ input: '' }, /'input' is an empty string/, 'input'],
      [{ input: ['ok', ''] }, /'input\[1\]' is an empty string/, 'input'],
      [{ input: [] }, /'input' is an empty array/, 'input'],
      [{ input: ['ok', 3.5, 'x'] }, /'input\[1\]' must be a string/, 'input'],
      [{ input: ['ok', null] }, /'input\[1\]' must be a string.*null/, 'input'],
      [{}, /'input' must be a string/, 'input'],
      [{ input: 'x', encoding_format: 'hex' }, /encoding_format/, 'encoding_format'],
      [{ input: 'x', dimensions: 0 }, /'dimensions' must be an integer in \[1, 64\]/, 'dimensions'],
      [{ input: 'word '.repeat(300) }, /input\[0\] has 302 tokens, more than the model's context of 128/, 'input'],
      [{ input: [[101, 999999]] }, /not a token id/, ''],
    ];
    for (const [body, msg, param] of cases) {
      const r = await post(base, '/v1/embeddings', body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.message).toMatch(msg);
      if (param) expect(r.json.error.param).toBe(param);
    }
    expect((await post(base, '/v1/embeddings', '{"input": ')).status).toBe(400);
    expect((await post(base, '/v1/rerank', { query: 'q', documents: ['d'] })).json.error.message).toMatch(/'bert-test' is not a reranker/);
    expect((await post(base, '/v1/chat/completions', { messages: [] })).json.error.message).toMatch(/'bert-test' is an embedding model/);
    expect((await fetch(`${base}/v1/embeddings`)).status).toBe(405);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: Array<{ id: string; endpoints: string[] }> };
    expect(models.data[0]).toMatchObject({ id: 'bert-test', endpoints: ['/v1/embeddings'] });
  });

  it('a reranker serves /v1/rerank (llama-server / Jina shape), sorted, top_n and return_documents', async () => {
    const rpath = join(dir, 'bert-rank.gguf');
    makeRandomEncoder({ arch: 'bert', size: 'tiny', pooling: 'rank', seed: 6, gguf: rpath });
    const h = await createEmbeddingServer({ model: rpath, modelId: 'reranker' });
    const { server: s, base: b } = await listen(h);
    await using m = await loadEmbeddingModel(rpath, { worker: false });
    try {
      const docs = ['the fox', 'a dog', 'nothing related', 'fox fox fox'];
      const want = await m.rank('where is the fox', docs);
      const r = await post(b, '/v1/rerank', { query: 'where is the fox', documents: docs, top_n: 3, return_documents: true });
      expect(r.status).toBe(200);
      expect(r.json.results).toHaveLength(3);
      const order = [...want.keys()].sort((x, y) => want[y]! - want[x]!).slice(0, 3);
      expect(r.json.results.map((x: { index: number }) => x.index)).toEqual(order);
      for (const x of r.json.results) {
        expect(x.relevance_score).toBeCloseTo(want[x.index]!, 6);
        expect(x.document.text).toBe(docs[x.index]);
      }
      expect(r.json.usage.prompt_tokens).toBeGreaterThan(0);
      expect((await post(b, '/v1/rerank', { query: '', documents: ['x'] })).json.error.param).toBe('query');
      expect((await post(b, '/v1/rerank', { query: 'q', documents: [] })).json.error.param).toBe('documents');
      expect((await post(b, '/v1/embeddings', { input: 'x' })).json.error.message).toMatch(/'reranker' is a reranker; use \/v1\/rerank/);

      // concurrent /v1/rerank requests share model calls (rankGroups), each gets its own scores,
      // and a bad one among them fails alone
      let calls = 0;
      const model = h.model;
      const rankGroups = model.rankGroups.bind(model);
      // the first call is held back a moment so the other requests are queued behind it even on a
      // loaded machine (where they may otherwise arrive one by one, each after the last finished)
      model.rankGroups = async (g, o) => {
        if (calls++ === 0) await new Promise((r) => setTimeout(r, 300));
        return rankGroups(g, o);
      };
      const queries = Array.from({ length: 8 }, (_, i) => `query ${i} about a ${i % 2 ? 'fox' : 'dog'}`);
      const wants = await Promise.all(queries.map((q) => m.rank(q, docs)));
      const replies = await Promise.all(queries.map((q) => post(b, '/v1/rerank', { query: q, documents: docs })));
      replies.forEach((r, i) => {
        expect(r.status).toBe(200);
        for (const x of r.json.results) expect(x.relevance_score).toBeCloseTo(wants[i]![x.index]!, 5);
      });
      expect(calls).toBeLessThan(queries.length); // at least two requests went through one call
      const [bad, ok] = await Promise.all([
        post(b, '/v1/rerank', { query: 'q', documents: ['fine', 'word '.repeat(400)] }),
        post(b, '/v1/rerank', { query: queries[0], documents: docs }),
      ]);
      expect(bad!.status).toBe(400);
      expect(bad!.json.error.message).toMatch(/documents\[1\] has \d+ tokens, more than the model's context/);
      expect(bad!.json.error.param).toBe('documents');
      expect(ok!.status).toBe(200);
      const card = (await (await fetch(`${b}/v1/models`)).json()) as { data: Array<{ endpoints: string[] }> };
      expect(card.data[0]!.endpoints).toEqual(['/v1/rerank']);
    } finally {
      s.close();
      await h.close();
    }
  });
});

describe('a generative model has no embeddings', () => {
  it('/v1/embeddings and /v1/rerank → 400 naming the model; /v1/models lists its endpoints', async () => {
    const handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1, modelId: 'toy-llm' });
    const { server, base } = await listen(handler);
    try {
      const r = await post(base, '/v1/embeddings', { input: 'hello' });
      expect(r.status).toBe(400);
      expect(r.json.error.message).toMatch(/'toy-llm' is a generative model/);
      expect((await post(base, '/v1/rerank', { query: 'q', documents: ['d'] })).status).toBe(400);
      const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: Array<{ endpoints: string[] }> };
      expect(models.data[0]!.endpoints).toContain('/v1/completions');
      expect(models.data[0]!.endpoints).not.toContain('/v1/embeddings');
    } finally {
      server.close();
      await handler.close();
    }
  });
});
