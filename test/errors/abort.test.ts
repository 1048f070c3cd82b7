/**
 * Aborting: generate, stream, chat and embed reject with an AbortError (`name` 'AbortError',
 * `code` 'ABORT_ERR') whose `cause` is the signal's `reason` (the same object, an Error or not);
 * an already-aborted signal rejects at once, without waiting behind queued work.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB, makeRandomEncoder } from '../../scripts/make-random-encoder.js';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { loadEmbeddingModel } from '../../ts/embed/index.js';
import { AbortError } from '../../ts/errors/abort-error.js';
import { AbortError as GenerateAbortError } from '../../ts/generate/engine.js';
import { loadModel, type Model } from '../../ts/generate/model.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-abort-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectAbort(e: unknown, reason: unknown): void {
  expect(e).toBeInstanceOf(AbortError);
  expect((e as Error).name).toBe('AbortError');
  expect((e as { code: string }).code).toBe('ABORT_ERR');
  expect((e as Error).cause).toBe(reason);
}

describe('AbortError from the model (worker thread)', () => {
  let model: Model;
  beforeAll(async () => {
    const p = join(dir, 'llama.gguf');
    makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 3, gguf: p });
    model = await loadModel(p, { backend: 'js', threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('an already-aborted signal rejects at once, not after the generation queued before it', async () => {
    const long = model.generate('x', { maxTokens: 200, ignoreEos: true, temperature: 0 });
    let longDone = false;
    void long.then(() => (longDone = true));
    const reason = { why: 'user left' };
    const e = await model.generate('x', { signal: AbortSignal.abort(reason) }).catch((x: unknown) => x);
    expect(longDone).toBe(false);
    expectAbort(e, reason);
    expect(e).toBeInstanceOf(GenerateAbortError);
    expect((e as GenerateAbortError).partial).toEqual({ text: '', tokens: [] });
    expect((await long).tokens).toHaveLength(200);
  });

  it('the default reason (a DOMException) and a string reason are kept as the cause', async () => {
    const s1 = AbortSignal.abort();
    expectAbort(await model.generate('x', { signal: s1 }).catch((x: unknown) => x), s1.reason);
    expect((s1.reason as Error).name).toBe('AbortError');
    const s2 = AbortSignal.abort('stop');
    expectAbort(await model.chat([{ role: 'user', content: 'hi' }], { signal: s2, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' }).catch((x: unknown) => x), 'stop');
  });

  it('mid-stream: the cause is the very Error passed to abort(), the partial text is kept', async () => {
    const ac = new AbortController();
    const reason = new Error('deadline');
    const chunks: string[] = [];
    const s = model.stream('x', { maxTokens: 400, ignoreEos: true, temperature: 0, signal: ac.signal });
    const e = await (async () => {
      for await (const c of s) {
        chunks.push(c);
        if (chunks.length === 3) ac.abort(reason);
      }
    })().catch((x: unknown) => x);
    expectAbort(e, reason);
    const partial = (e as GenerateAbortError).partial!;
    expect(partial.tokens.length).toBeGreaterThan(0);
    expect(partial.tokens.length).toBeLessThan(400);
    expect(partial.text.startsWith(chunks.join(''))).toBe(true);
  });

  it('in-process ({ worker: false }) behaves the same', async () => {
    const p = join(dir, 'llama.gguf');
    await using m = await loadModel(p, { backend: 'js', threads: 1, worker: false });
    const ac = new AbortController();
    let n = 0;
    const e = await m
      .generate('x', { maxTokens: 100, ignoreEos: true, onText: () => void (++n === 2 && ac.abort('enough')), signal: ac.signal })
      .catch((x: unknown) => x);
    expectAbort(e, 'enough');
  });
});

describe.skipIf(!existsSync(BGE_VOCAB))(`AbortError from the embedding model ${existsSync(BGE_VOCAB) ? '' : `(${BGE_VOCAB} missing: skipped)`}`, () => {
  it('an aborted embed rejects with the reason as cause, and the model still works', async () => {
    const p = join(dir, 'bert.gguf');
    makeRandomEncoder({ arch: 'bert', size: 'tiny', pooling: 'mean', seed: 1, gguf: p });
    await using m = await loadEmbeddingModel(p);
    const reason = new Error('cancelled');
    expectAbort(await m.embed('hello', { signal: AbortSignal.abort(reason) }).catch((x: unknown) => x), reason);
    expect((await m.embed('hello'))[0]!.length).toBeGreaterThan(0);
  });
});
