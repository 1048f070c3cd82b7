/**
 * /v1/completions on an encoder-decoder (a random tiny Flan-T5 GGUF): the prompt is the source, the
 * completion the decoder's output. Checked against the library's own single-request path
 * (`loadModel(...).generate` on the same source, ts/generate/seq2seq-engine.ts), which is checked
 * against llama.cpp in test/models/t5-api.test.ts: greedy and seeded outputs equal, concurrent
 * requests (interleaved in the batch loop, each slot with its own encoder K/V) equal to alone,
 * streaming, n > 1 (the slot copy), chat refused with 400, and bad input answered with 400s while
 * the server keeps serving.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB } from '../../scripts/make-random-encoder.js';
import { makeRandomT5 } from '../../scripts/make-random-t5.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { loadEngine } from '../../ts/server/model-engine.js';
import { listen, post, postStream } from './helpers.js';

const haveVocab = existsSync(BGE_VOCAB);
const SOURCES = [
  'translate english to german: the house is wonderful.',
  'summarize: the cat sat on the mat and looked at the dog.',
  'question: what is the capital of france? context: paris is the capital of france.',
  'hello world',
];

describe.skipIf(!haveVocab)(`serving an encoder-decoder (${haveVocab ? 'bge vocabulary present' : `bge vocabulary absent (${BGE_VOCAB}) → skipped`})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-t5-serve-'));
  const path = join(dir, 'flan-t5.gguf');
  let model: Model;
  let handler: ServeHandler;
  let server: Server;
  let url: string;
  const alone = new Map<string, { text: string; tokens: number[] }>();

  beforeAll(async () => {
    makeRandomT5({ arch: 'flan-t5', size: 'tiny', seed: 11, gguf: path });
    model = await loadModel(path, { worker: false, contextLength: 64 });
    for (const s of SOURCES) {
      const r = await model.generate(s, { maxTokens: 12, temperature: 0, ignoreEos: true });
      alone.set(s, { text: r.text, tokens: r.tokens });
    }
    handler = await createServer({ model: path, parallel: 3, contextLength: 64 });
    ({ server, base: url } = await listen(handler));
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await handler?.close();
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const complete = (prompt: unknown, extra: Record<string, unknown> = {}) =>
    post(url, '/v1/completions', { prompt, max_tokens: 12, temperature: 0, ignore_eos: true, ...extra });

  it('greedy completions equal model.generate on the same source, one request at a time', async () => {
    for (const s of SOURCES) {
      const r = await complete(s);
      expect(r.status, JSON.stringify(r.json)).toBe(200);
      expect(r.json.choices[0].text).toBe(alone.get(s)!.text);
      expect(r.json.usage.completion_tokens).toBe(12);
      expect(r.json.usage.prompt_tokens).toBe((await model.encode(s)).length);
    }
    // the outputs differ between sources (the encoder output reaches the decoder)
    expect(new Set([...alone.values()].map((a) => a.text)).size).toBeGreaterThan(1);
  });

  it('a fused decoder step over 3 slots gives each slot the logits it gets alone (within 1e-5 of the largest)', async () => {
    const L = await loadEngine({ model: path, slots: 3, contextLength: 64, maxTokensPerStep: 64 });
    try {
      const V = L.engine.vocabSize;
      const srcs = await Promise.all(SOURCES.slice(0, 3).map((s) => model.encode(s)));
      // prompts (the last in two chunks), then 4 fused steps feeding fixed tokens
      const first = L.engine.forward([
        { slot: 0, pos: 0, tokens: Int32Array.from(srcs[0]!), wantLogits: true },
        { slot: 1, pos: 0, tokens: Int32Array.from(srcs[1]!), wantLogits: true },
        { slot: 2, pos: 0, tokens: Int32Array.from(srcs[2]!.slice(0, 4)), wantLogits: false },
      ]).slice();
      expect(first.length).toBe(2 * V);
      L.engine.forward([{ slot: 2, pos: 4, tokens: Int32Array.from(srcs[2]!.slice(4)), wantLogits: true }]);
      const fused: Float32Array[][] = [[], [], []];
      for (let t = 0; t < 4; t++) {
        const rows = [0, 1, 2].map((slot) => ({ slot, pos: srcs[slot]!.length + t, tokens: Int32Array.of(100 + 7 * t + slot), wantLogits: true }));
        const out = L.engine.forward(rows);
        for (let r = 0; r < 3; r++) fused[r]!.push(out.slice(r * V, (r + 1) * V));
      }
      for (let slot = 0; slot < 3; slot++) {
        L.engine.forward([{ slot, pos: 0, tokens: Int32Array.from(srcs[slot]!), wantLogits: true }]);
        for (let t = 0; t < 4; t++) {
          const alone = L.engine.forward([{ slot, pos: srcs[slot]!.length + t, tokens: Int32Array.of(100 + 7 * t + slot), wantLogits: true }]);
          let maxAbs = 0;
          let maxDiff = 0;
          for (let i = 0; i < V; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(alone[i]!));
            maxDiff = Math.max(maxDiff, Math.abs(alone[i]! - fused[slot]![t]![i]!));
          }
          expect(maxDiff / maxAbs, `slot ${slot} step ${t}`).toBeLessThan(1e-5);
        }
      }
    } finally {
      L.engine.dispose();
    }
  });

  it('concurrent requests (more than the slots) give the same outputs as alone', async () => {
    const all = [...SOURCES, ...SOURCES];
    const rs = await Promise.all(all.map((s) => complete(s)));
    rs.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.json.choices[0].text).toBe(alone.get(all[i]!)!.text);
    });
  });

  it('a seeded sampled completion equals model.generate with the same seed', async () => {
    const s = SOURCES[1]!;
    const want = await model.generate(s, { maxTokens: 10, temperature: 0.9, topP: 0.95, seed: 42, ignoreEos: true });
    const r = await complete(s, { max_tokens: 10, temperature: 0.9, top_p: 0.95, seed: 42 });
    expect(r.json.choices[0].text).toBe(want.text);
  });

  it('penalties see the decoder history (not the source), as model.generate', async () => {
    const opts = { maxTokens: 40, temperature: 0, repetitionPenalty: 3, frequencyPenalty: 2, presencePenalty: 2, ignoreEos: true };
    let changed = 0;
    // Sources made of tokens the decoder likes to emit, so that penalising the source would change the output.
    for (const s of SOURCES) {
      const source = [...alone.get(s)!.tokens, 1];
      const plain = await model.generate(source, { maxTokens: 40, temperature: 0, ignoreEos: true });
      const want = await model.generate(source, opts);
      if (want.text !== plain.text) changed++; // the penalties changed the output, so the comparison means something
      const r = await complete(source, { max_tokens: 40, repetition_penalty: 3, frequency_penalty: 2, presence_penalty: 2 });
      expect(r.json.choices[0].text).toBe(want.text);
    }
    expect(changed).toBeGreaterThan(0);
  });

  it('streams the same text', async () => {
    const s = SOURCES[0]!;
    const r = await postStream(url, '/v1/completions', { prompt: s, max_tokens: 12, temperature: 0, ignore_eos: true, stream: true });
    expect(r.status).toBe(200);
    expect(r.done).toBe(true);
    expect(r.events.map((e) => e.choices[0]?.text ?? '').join('')).toBe(alone.get(s)!.text);
  });

  it('n = 2 greedy choices (the source encoded once, the slot copied) both equal the single output; stop strings cut', async () => {
    const s = SOURCES[2]!;
    const r = await complete(s, { n: 2 });
    expect(r.status).toBe(200);
    expect(r.json.choices.map((c: { text: string }) => c.text)).toEqual([alone.get(s)!.text, alone.get(s)!.text]);
    const full = alone.get(s)!.text;
    const stop = full.slice(Math.floor(full.length / 2), Math.floor(full.length / 2) + 2);
    if (stop.trim().length > 0) {
      const cut = await complete(s, { stop: [stop] });
      expect(cut.json.choices[0].text).toBe(full.slice(0, full.indexOf(stop)));
      expect(cut.json.choices[0].finish_reason).toBe('stop');
    }
  });

  it('logprobs are reported', async () => {
    const r = await complete(SOURCES[3]!, { logprobs: 2, max_tokens: 4 });
    expect(r.status).toBe(200);
    expect(r.json.choices[0].logprobs.tokens).toHaveLength(4);
    for (const lp of r.json.choices[0].logprobs.token_logprobs) expect(lp).toBeLessThanOrEqual(0);
  });

  it('chat is refused with 400 naming the reason; /v1/models reports the model', async () => {
    const r = await post(url, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/encoder-decoder/);
    const m = (await (await fetch(`${url}/v1/models`)).json()) as { data: Record<string, unknown>[] };
    expect(m.data[0]!.endpoints).toEqual(['/v1/completions']);
    expect(m.data[0]!.encoder_decoder).toEqual({ max_source_tokens: 512, max_target_tokens: 64 });
  });

  it('/tokenize gives the source ids the encoder sees', async () => {
    const r = await post(url, '/tokenize', { content: SOURCES[0] });
    expect(r.status).toBe(200);
    expect(r.json.tokens).toEqual(await model.encode(SOURCES[0]!));
  });

  it('bad input gets 400s and the server keeps serving', async () => {
    const bad = [
      { prompt: '' },
      { prompt: 'word '.repeat(600) },
      { prompt: [1, 2, 999999] },
      { prompt: Array.from({ length: 600 }, () => 5) },
      { prompt: 'hello', max_tokens: 100 },
      { prompt: [] },
    ];
    for (const body of bad) {
      const r = await post(url, '/v1/completions', body);
      expect(r.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(r.json.error.message.length).toBeGreaterThan(10);
    }
    const ok = await complete(SOURCES[0]!);
    expect(ok.json.choices[0].text).toBe(alone.get(SOURCES[0]!)!.text);
  });
});
