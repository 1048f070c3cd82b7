/**
 * `logprobs` / `topLogprobs` of generate and stream on T5 models (tiny random GGUFs, ReLU + tied head
 * and gated-GELU + untied head): every reported value is the log-softmax of the decoder's raw
 * logits, checked against logits recomputed independently by the JS backend step by step (greedy
 * and sampled, generate and stream, through the worker), and the first step against llama.cpp's own
 * encoder-decoder (bench/peers/llama-seq2seq.sh with LOGITS=1). Tied heads: T5 scales the decoder
 * output by dim^-½ before the shared embedding and llama.cpp does not, so llama.cpp's logits are
 * divided by √dim before their log-softmax (see t5-parity.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BGE_VOCAB } from '../../scripts/make-random-encoder.js';
import { makeRandomT5, type T5Arch } from '../../scripts/make-random-t5.js';
import { getBackend } from '../../ts/backend/index.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import type { TokenLogprob } from '../../ts/generate/types.js';
import { buildEncoderDecoder } from '../../ts/models/registry.js';
import { repoRoot } from './helpers.js';

const haveVocab = existsSync(BGE_VOCAB);
const peerTool = join(repoRoot, 'bench', 'peers', 'llama-seq2seq.sh');
const havePeer = existsSync(join(repoRoot, 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle'));
const dir = mkdtempSync(join(tmpdir(), 'tl-t5-logprobs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const SOURCE = 'translate english to german: the house is wonderful.';
/** Native (f32 kernels over f16 weights) vs the JS backend's recomputation. */
const TOL = 2e-3;

function logSoftmax(x: ArrayLike<number>, scale = 1): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) max = Math.max(max, x[i]! / scale);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! / scale - max);
  const lse = max + Math.log(sum);
  return Float64Array.from({ length: x.length }, (_, i) => x[i]! / scale - lse);
}

/** The log-softmax of the decoder's logits before each generated token, recomputed on the JS backend. */
function reference(path: string, source: number[], generated: number[]): Float64Array[] {
  using mf = openModelFile(path);
  const m = buildEncoderDecoder(mf, getBackend('js'));
  const state = m.start(m.encode(Int32Array.from(source)));
  const out: Float64Array[] = [];
  let token = m.spec.decoderStartTokenId;
  for (const next of generated) {
    out.push(logSoftmax(m.decode(state, Int32Array.of(token))));
    token = next;
  }
  return out;
}

function check(lp: TokenLogprob[], tokens: number[], ref: Float64Array[], k: number): void {
  expect(lp.map((e) => e.token)).toEqual(tokens);
  lp.forEach((e, i) => {
    const r = ref[i]!;
    expect(Math.abs(e.logprob - r[e.token]!), `step ${i} token ${e.token}`).toBeLessThan(TOL);
    expect(e.top).toHaveLength(k);
    const best = Array.from(r.keys()).sort((a, b) => r[b]! - r[a]!).slice(0, k);
    for (const [j, t] of e.top.entries()) {
      expect(Math.abs(t.logprob - r[t.token]!), `step ${i} alternative ${t.token}`).toBeLessThan(TOL);
      if (j > 0) expect(t.logprob).toBeLessThanOrEqual(e.top[j - 1]!.logprob);
      // the true top k (a near tie at the boundary may swap the last one)
      if (j < k - 1 || Math.abs(r[best[j]!]! - r[t.token]!) > TOL) expect(t.token).toBe(best[j]);
    }
  });
}

for (const arch of ['t5', 'flan-t5'] as const satisfies readonly T5Arch[]) {
  describe.skipIf(!haveVocab)(`T5 logprobs, ${arch} (${haveVocab ? 'bge vocabulary present' : `bge vocabulary absent (${BGE_VOCAB}) → skipped`})`, () => {
    const path = join(dir, `${arch}.gguf`);
    let model: Model;
    let source: number[];
    beforeAll(async () => {
      makeRandomT5({ arch, size: 'tiny', seed: arch === 't5' ? 3 : 4, gguf: path });
      model = await loadModel(path); // worker thread, native backend when it loads
      source = await model.encode(SOURCE);
    });
    afterAll(async () => model?.dispose());

    it('greedy generate: logprobs are the log-softmax of independently recomputed logits; top 5 sorted, the true top 5', async () => {
      const r = await model.generate(SOURCE, { temperature: 0, maxTokens: 10, ignoreEos: true, logprobs: true, topLogprobs: 5 });
      expect(r.tokens).toHaveLength(10);
      expect(r.logprobs).toHaveLength(r.tokens.length);
      check(r.logprobs!, r.tokens, reference(path, source, r.tokens), 5);
      for (const e of r.logprobs!) expect(e.top[0]!.token).toBe(e.token); // greedy picks the most likely
      expect(r.logprobs!.map((e) => e.text).join('').trim()).toBe(r.text.trim());
    });

    it('sampled stream with penalties: the same convention (raw logits, before penalties and temperature); absent unless asked', async () => {
      const opts = { temperature: 1.3, topK: 30, repetitionPenalty: 1.3, seed: 9, maxTokens: 8, ignoreEos: true, logprobs: true, topLogprobs: 3 };
      const s = model.stream(SOURCE, opts);
      let text = '';
      for await (const chunk of s) text += chunk;
      const r = await s.result;
      expect(r.text).toBe(text);
      check(r.logprobs!, r.tokens, reference(path, source, r.tokens), 3);
      const plain = await model.generate(SOURCE, { ...opts, logprobs: undefined, topLogprobs: undefined });
      expect(plain.tokens).toEqual(r.tokens); // asking for logprobs does not change the sampling
      expect(plain.logprobs).toBeUndefined();
      await expect(model.generate(SOURCE, { topLogprobs: 2 })).rejects.toThrow(/topLogprobs needs logprobs/);
    });

    it.skipIf(!havePeer)(`first step against llama.cpp's logits ${havePeer ? '' : '(node-llama-cpp not installed in bench/peers → skipped)'}`, async () => {
      const r = await model.generate(SOURCE, { temperature: 0, maxTokens: 1, logprobs: true, topLogprobs: 20 });
      const toolTmp = join(tmpdir(), 'tl-t5-llama-seq2seq');
      mkdirSync(toolTmp, { recursive: true });
      const out = execFileSync(peerTool, [path, '1', source.join(','), '1'], { cwd: repoRoot, env: { ...process.env, LOGITS: '1', TMPDIR: toolTmp }, stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
      const theirs = JSON.parse(out.toString().trim()) as { logits: number[]; ids: number[] };
      using mf = openModelFile(path);
      const tied = buildEncoderDecoder(mf, getBackend('js')).spec.tiedHead;
      expect(tied).toBe(arch === 't5');
      const dim = buildEncoderDecoder(mf, getBackend('js')).config.dim;
      const ref = logSoftmax(theirs.logits, tied ? Math.sqrt(dim) : 1);
      const e = r.logprobs![0]!;
      expect(e.token).toBe(theirs.ids[0]);
      // llama.cpp's f16 cross-attention: logits within 1e-3 of their range (t5-parity.test.ts)
      const range = (Math.max(...theirs.logits) - Math.min(...theirs.logits)) / (tied ? Math.sqrt(dim) : 1);
      const tol = 2e-3 * range;
      expect(Math.abs(e.logprob - ref[e.token]!)).toBeLessThan(tol);
      for (const t of e.top) expect(Math.abs(t.logprob - ref[t.token]!), `token ${t.token}`).toBeLessThan(tol);
    });
  });
}
