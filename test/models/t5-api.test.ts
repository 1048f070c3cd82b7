/**
 * loadModel on a T5 file: generate / stream take the source text, encode it once and decode with
 * the sampling options, stop strings, AbortSignal and the worker thread, as decoders do; greedy
 * ids checked against llama.cpp's encoder-decoder (../shared/tools/llama-greedy.sh) when present;
 * and the bad inputs of an encoder-decoder (empty or too long source, decoder-only options, a GGUF
 * without decoder tensors), each a clear error.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB } from '../../scripts/make-random-encoder.js';
import { makeRandomT5 } from '../../scripts/make-random-t5.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { CapabilityError } from '../../ts/errors/capability-error.js';
import { AbortError } from '../../ts/generate/engine.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import { getBackend } from '../../ts/backend/index.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { buildEncoderDecoder } from '../../ts/models/registry.js';
import { repoRoot, shared } from './helpers.js';
import { t5EncoderOnly, withoutTensors } from './t5-helpers.js';
import { oraclePath } from './llama-cpp-oracle.js';

const haveVocab = existsSync(BGE_VOCAB);
const greedyTool = join(shared, 'tools', 'llama-greedy.sh');
const dir = mkdtempSync(join(tmpdir(), 'tl-t5-api-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SOURCE = 'translate english to german: the house is wonderful.';

describe.skipIf(!haveVocab)(`T5 through loadModel (${haveVocab ? 'bge vocabulary present' : `bge vocabulary absent (${BGE_VOCAB}) → skipped`})`, () => {
  const path = join(dir, 'flan-t5.gguf');
  let model: Model;
  beforeAll(async () => {
    makeRandomT5({ arch: 'flan-t5', size: 'tiny', seed: 11, gguf: path });
    model = await loadModel(path); // in a worker thread (the default)
  });
  afterAll(async () => model?.dispose());

  it('info says encoder-decoder, with both stacks', () => {
    expect(model.info.config.family).toBe('t5');
    expect(model.info.encoderDecoder).toEqual({ encoderLayers: 3, decoderLayers: 2, decoderStartTokenId: 0, maxSourceTokens: 512 });
    expect(model.info.tokenizer.bosId).toBeNull();
  });

  it.skipIf(!existsSync(greedyTool) || !oraclePath)('greedy generate (temperature 0) gives llama.cpp\'s ids for the encoded source', async () => {
    const ids = await model.encode(SOURCE);
    expect(ids.at(-1)).toBe(1); // </s>
    const r = await model.generate(SOURCE, { temperature: 0, maxTokens: 24, ignoreEos: true });
    const toolTmp = join(tmpdir(), 'tl-t5-llama-greedy');
    mkdirSync(toolTmp, { recursive: true });
    const theirs = execFileSync(greedyTool, [path, '24', ids.join(',')], { cwd: repoRoot, env: { ...process.env, TMPDIR: toolTmp }, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().split(',').map(Number);
    expect(r.tokens).toEqual(theirs);
    expect(r.usage.promptTokens).toBe(ids.length);
    expect(r.finishReason).toBe('length');
    // the same source as token ids
    expect((await model.generate(ids, { temperature: 0, maxTokens: 24, ignoreEos: true })).tokens).toEqual(theirs);
  });

  it('stream gives the text of generate; a seed reproduces a sampled text; a stop string cuts it', async () => {
    const opts = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.01, repetitionPenalty: 1.1, seed: 5, maxTokens: 20, ignoreEos: true };
    const a = await model.generate(SOURCE, opts);
    const s = model.stream(SOURCE, opts);
    let text = '';
    for await (const chunk of s) text += chunk;
    expect(text).toBe(a.text);
    expect((await s.result).tokens).toEqual(a.tokens);
    const greedy = await model.generate(SOURCE, { temperature: 0, maxTokens: 20, ignoreEos: true });
    expect(greedy.text.length).toBeGreaterThan(6);
    const stop = greedy.text.slice(4, 7);
    const cut = await model.generate(SOURCE, { temperature: 0, maxTokens: 20, ignoreEos: true, stop: [stop] });
    expect(cut.stopString).toBe(stop);
    expect(cut.finishReason).toBe('stop');
    expect(cut.text).toBe(greedy.text.slice(0, greedy.text.indexOf(stop)));
  });

  it('a grammar constrains the decoder: greedy and sampled outputs are words the grammar allows', async () => {
    const grammar = 'root ::= word (" " word)*\nword ::= "the" | "house" | "is"';
    for (const options of [{ temperature: 0 }, { temperature: 0.9, seed: 3 }, { temperature: 1, topK: 20, seed: 5 }]) {
      const r = await model.generate(SOURCE, { ...options, grammar, maxTokens: 6 });
      expect(r.tokens.length).toBeGreaterThan(0);
      // every word the grammar's; cut at maxTokens, the last may be a word's beginning
      const words = r.text.trim().split(' ');
      const last = words.pop()!;
      for (const w of words) expect(['the', 'house', 'is']).toContain(w);
      if (r.finishReason === 'stop') expect(['the', 'house', 'is']).toContain(last);
      else expect(['the', 'house', 'is'].some((w) => w.startsWith(last))).toBe(true);
    }
  });

  it('an AbortSignal stops it with the partial text', async () => {
    const ac = new AbortController();
    const s = model.stream(SOURCE, { temperature: 0, maxTokens: 400, ignoreEos: true, signal: ac.signal });
    let seen = '';
    const consume = (async () => {
      for await (const chunk of s) {
        seen += chunk;
        ac.abort();
      }
    })();
    await expect(consume).rejects.toBeInstanceOf(AbortError);
    const err = await s.result.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).partial!.tokens.length).toBeLessThan(400);
    expect(seen.length).toBeGreaterThan(0);
  });

  it('bad input: empty source, a source longer than the encoder context, decoder-only options, out-of-range ids', async () => {
    await expect(model.generate('')).rejects.toThrow(/source text is empty/);
    await expect(model.generate([])).rejects.toThrow(/source is empty/);
    await expect(model.generate('word '.repeat(600))).rejects.toThrow(/the source has \d+ tokens but the encoder's context is 512/);
    await expect(model.generate(SOURCE, { addBos: true })).rejects.toThrow(/addBos is a decoder-only option/);
    await expect(model.generate([5, 99999])).rejects.toThrow(/source token 99999 is outside the vocabulary/);
    // the model still works afterwards
    expect((await model.generate(SOURCE, { temperature: 0, maxTokens: 3, ignoreEos: true })).tokens).toHaveLength(3);
  });

  it('bad files and load options: missing decoder tensors, decoder-only load options', async () => {
    const noCross = join(dir, 'no-cross.gguf');
    withoutTensors(path, noCross, (n) => n === 'dec.blk.1.cross_attn_q.weight');
    await expect(loadModel(noCross, { worker: false })).rejects.toThrow(/decoder tensor 'dec\.blk\.1\.cross_attn_q\.weight' is missing/);
    const noDecoder = join(dir, 'no-decoder.gguf');
    withoutTensors(path, noDecoder, (n) => n.startsWith('dec.'));
    await expect(loadModel(noDecoder, { worker: false })).rejects.toThrow(/no-decoder\.gguf: decoder tensor 'dec\.blk\.0\.attn_norm\.weight' is missing/);
    await expect(loadModel(path, { worker: false, kvCache: 'f16' })).rejects.toThrow(/kvCache option is for decoder-only models/);
    await expect(loadModel(path, { worker: false, maxBatch: 8 })).rejects.toThrow(/maxBatch option is for decoder-only models/);
  });

  it("a tied head stored as output.weight (the embedding's bytes) is still tied: same logits as without it", () => {
    const tied = join(dir, 't5-tied.gguf');
    makeRandomT5({ arch: 't5', size: 'tiny', seed: 12, gguf: tied });
    const bytes = new Uint8Array(readFileSync(tied));
    const g = readGGUF(bytes);
    const meta: [string, GGUFWriteValue][] = [...g.metadata].map(([k, v]) => [k, (typeof v === 'number' || typeof v === 'bigint' ? { type: g.metadataTypes.get(k)!.type, value: v } : v) as GGUFWriteValue]);
    const tensors = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
    const emb = tensors.find((t) => t.name === 'token_embd.weight')!;
    const withHead = join(dir, 't5-tied-output.gguf');
    writeGGUF(withHead, { metadata: meta, tensors: [...tensors, { ...emb, name: 'output.weight' }] });
    using a = openModelFile(tied);
    using b = openModelFile(withHead);
    const backend = getBackend('js');
    const ma = buildEncoderDecoder(a, backend);
    const mb = buildEncoderDecoder(b, backend);
    expect(ma.spec.tiedHead).toBe(true);
    expect(mb.spec.tiedHead).toBe(true);
    const ids = Int32Array.of(100, 200, 300, 1);
    const la = ma.decode(ma.start(ma.encode(ids)), Int32Array.of(0)).slice();
    const lb = mb.decode(mb.start(mb.encode(ids)), Int32Array.of(0));
    expect(Array.from(lb)).toEqual(Array.from(la));
  });

  it('t5encoder (an encoder-only T5, as llama.cpp names it): the same encoder output as the full model; generate is a CapabilityError', async () => {
    const enc = join(dir, 't5encoder.gguf');
    t5EncoderOnly(path, enc);
    using full = openModelFile(path);
    using only = openModelFile(enc);
    const backend = getBackend('js');
    const a = buildEncoderDecoder(full, backend);
    const b = buildEncoderDecoder(only, backend);
    expect(b.config.family).toBe('t5encoder');
    expect(b.hasDecoder).toBe(false);
    const ids = Int32Array.from(await model.encode(SOURCE));
    expect(Array.from(b.encodeHidden(ids))).toEqual(Array.from(a.encodeHidden(ids)));
    expect(() => b.encode(ids)).toThrow(/has no decoder/);
    // it loads to embed (t5-embed.test.ts); generate is a CapabilityError
    const e = await loadModel(enc, { worker: false });
    try {
      expect(e.info.capabilities).toEqual({ generate: false, embed: true, rank: false });
      await expect(e.generate(SOURCE)).rejects.toBeInstanceOf(CapabilityError);
      await expect(e.generate(SOURCE)).rejects.toThrow(/cannot generate/);
    } finally {
      await e.dispose();
    }
  });
});
