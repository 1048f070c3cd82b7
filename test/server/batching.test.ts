/**
 * Continuous batching on a real model (stories260K, llama2.c format, from ../shared): greedy
 * output of every request must be token-for-token what it is alone — and what the models'
 * own single-sequence generation gives (an independent path: ts/generate's Engine over the
 * Transformer's own KV cache) — when it runs batched with 15 others, joins a running batch,
 * or has its prompt fed in chunks. From BOS, the text must begin with llama2.c's reference.
 * Random tiny GPT-2 (learned positions, biases, LayerNorm) and Llama (GQA, q8_0) models check the
 * other layer paths the same way.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel, type MakeOptions } from '../../scripts/make-random-model.js';
import { loadModel, type Model } from '../../ts/generate/index.js';
import { loadEngine } from '../../ts/server/model-engine.js';
import { Scheduler } from '../../ts/server/scheduler.js';
import { ARCHITECTURES } from '../../ts/models/architectures.js';
import { expectBatchingEqualsGenerate, repoRoot, STORIES_OPENING, storiesDir } from '../models/helpers.js';

const stories = join(storiesDir, 'stories260K.bin');

const PROMPTS = [
  'Once upon a time',
  'Lily and Tom went to the park',
  'The little dog was sad because',
  'One day, a big red ball',
  'There was a girl who loved to sing',
  'The sun was shining and the birds',
  'Tim found a box in the garden. He opened it and',
  'Mom said it was time for bed',
  'The cat',
  'Sam had a big truck. He liked to play with it every day. One day the truck broke and Sam',
  'A bird flew',
  'Sue wanted to bake a cake for her mom',
  'The boy ran',
  'In the forest there lived a small bear who',
  'Ben and his friend',
  'It was a rainy day',
];

describe.skipIf(!existsSync(stories))('continuous batching on stories260K (skipped: ../shared/models/stories260K is absent)', () => {
  let s: Scheduler;
  let single: Model;
  const reference = new Map<string, number[]>();
  const N = 48;

  beforeAll(async () => {
    s = await Scheduler.load({ model: stories, parallel: 16, prefillChunk: 16 });
    single = await loadModel(stories, { worker: false });
    for (const p of PROMPTS) reference.set(p, (await single.generate(p, { temperature: 0, maxTokens: N })).tokens);
  });
  afterAll(async () => {
    await s?.close();
    await single?.dispose();
  });

  it('greedy from BOS reproduces llama2.c for 200 tokens, as the single-sequence path does', async () => {
    const r = await s.generate('', { temperature: 0, maxTokens: 200 });
    expect(r.text.startsWith(STORIES_OPENING)).toBe(true);
    expect(r.tokens).toEqual((await single.generate('', { temperature: 0, maxTokens: 200 })).tokens);
  });

  it('each of 16 requests gives the same tokens alone and batched with the 15 others', async () => {
    const alone: number[][] = [];
    for (const p of PROMPTS) alone.push((await s.generate(p, { temperature: 0, maxTokens: N })).tokens);
    const batched = await Promise.all(PROMPTS.map((p) => s.generate(p, { temperature: 0, maxTokens: N })));
    for (let i = 0; i < PROMPTS.length; i++) {
      expect(batched[i]!.tokens, PROMPTS[i]).toEqual(alone[i]);
      expect(alone[i], PROMPTS[i]).toEqual(reference.get(PROMPTS[i]!));
    }
  });

  it('requests joining a running batch, with prompts longer than a prefill chunk, still match', async () => {
    const runs: Promise<void>[] = [];
    for (let i = 0; i < PROMPTS.length; i++) {
      const p = PROMPTS[(i * 7) % PROMPTS.length]!;
      runs.push(s.generate(p, { temperature: 0, maxTokens: N }).then((r) => expect(r.tokens, p).toEqual(reference.get(p))));
      await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all(runs);
  });

  it('with padSingleRow the logits of a sequence are bit-identical alone and in a batch of 16', async () => {
    const L = await loadEngine({ model: stories, slots: 16, contextLength: 64, maxTokensPerStep: 64, engineOptions: { padSingleRow: true } });
    try {
      const prompt = (i: number): Int32Array => Int32Array.from({ length: 4 + i }, (_, j) => 1 + ((i * 37 + j * 11) % 500));
      for (let i = 0; i < 16; i++) L.engine.forward([{ slot: i, pos: 0, tokens: prompt(i), wantLogits: false }]);
      const decode = (i: number) => ({ slot: i, pos: prompt(i).length, tokens: Int32Array.of(42 + i), wantLogits: true });
      const alone = L.engine.forward([decode(0)]).slice();
      // The same step again (it rewrites the same cache position), now batched with the 15 others.
      const batched = L.engine.forward(Array.from({ length: 16 }, (_, i) => decode(i)));
      expect(Buffer.compare(Buffer.from(alone.buffer), Buffer.from(batched.slice(0, alone.length).buffer))).toBe(0);
    } finally {
      L.engine.dispose();
    }
  });

  it('prompt caching: a prompt extending an earlier prompt and its answer runs only its new tokens, and gives what generate gives', async () => {
    // padSingleRow: the lone rows (a resumed prompt's last token) take the M ≥ 2 kernels, so a
    // sequence's logits do not depend on how its prefix was batched: the tokens compare exactly
    const c = await Scheduler.load({ model: stories, parallel: 2, prefillChunk: 16, engineOptions: { padSingleRow: true } });
    try {
      const first = await c.generate('Lily and Tom went to the park', { temperature: 0, maxTokens: 20 });
      const turn2 = `Lily and Tom went to the park${first.text} Then they`;
      const ids = await single.encode(turn2);
      const before = c.stats().promptTokensRun;
      const r = await c.generate(turn2, { temperature: 0, maxTokens: N });
      const ran = c.stats().promptTokensRun - before;
      expect(ran).toBeGreaterThan(0);
      expect(ran).toBeLessThan(ids.length / 2);
      expect(r.tokens).toEqual((await single.generate(turn2, { temperature: 0, maxTokens: N })).tokens);
    } finally {
      await c.close();
    }
  });

  it('seeded sampling is reproducible batched and alone', async () => {
    const alone = await s.generate('The cat', { temperature: 0.9, topP: 0.95, seed: 7, maxTokens: 40 });
    const [batched] = await Promise.all([
      s.generate('The cat', { temperature: 0.9, topP: 0.95, seed: 7, maxTokens: 40 }),
      ...PROMPTS.slice(0, 8).map((p) => s.generate(p, { maxTokens: 40 })),
    ]);
    expect(batched!.tokens).toEqual(alone.tokens);
  });
});

describe('continuous batching on random models of every family', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-serve-batch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: { name: string; options: Omit<MakeOptions, 'size' | 'gguf'> }[] = [
    { name: 'gpt2 f32', options: { arch: 'gpt2', type: 'f32' } },
    { name: 'llama q8_0 (GQA)', options: { arch: 'llama', type: 'q8_0' } },
    { name: 'llama f32, Llama 3 RoPE scaling', options: { arch: 'llama', type: 'f32', ropeScaling: 'llama3' } },
    { name: 'llama f32, YaRN', options: { arch: 'llama', type: 'f32', ropeScaling: 'yarn' } },
    { name: 'mixtral f32 (4 experts)', options: { arch: 'llama', type: 'f32', experts: 4 } },
    { name: 'qwen2 f32', options: { arch: 'qwen2', type: 'f32' } },
    { name: 'qwen3 f32', options: { arch: 'qwen3', type: 'f32' } },
    { name: 'qwen3moe f32', options: { arch: 'qwen3moe', type: 'f32' } },
    { name: 'smollm3 f32', options: { arch: 'smollm3', type: 'f32' } },
    { name: 'mistral3 f32', options: { arch: 'mistral3', type: 'f32' } },
    // prompts up to 78 tokens and 24 generated: most queries see only the last 16 positions
    { name: 'mistral3 f32, sliding window 16', options: { arch: 'mistral3', type: 'f32', slidingWindow: 16 } },
  ];
  /** Families whose batching case lives next to their parity tests (same check: 16 requests alone, batched, and through generate). */
  const elsewhere: Record<string, string> = {
    gemma2: 'test/models/gemma-phi.test.ts',
    gemma3: 'test/models/gemma-phi.test.ts',
    phi3: 'test/models/gemma-phi.test.ts',
    gemma4: 'test/models/gemma4.test.ts',
  };
  it('every decoder family of the architecture table has a case (here or in its own test file)', () => {
    // the hybrids (recurrent state per slot) are checked in qwen35-parity / qwen3next-parity; encoders are not served this way
    const notHere = new Set(['qwen35', 'qwen35moe', 'qwen3next', 'bert', 'nomic-bert', 't5', 't5encoder']);
    const families = ARCHITECTURES.map((a) => a.family).filter((f) => !notHere.has(f));
    const covered = new Set([...cases.map((c) => c.options.arch as string), ...Object.keys(elsewhere)]);
    expect(families.filter((f) => !covered.has(f))).toEqual([]);
    for (const [family, file] of Object.entries(elsewhere)) {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      expect(text, `${family} in ${file}`).toMatch(/batched with the 15 others/);
      expect(text, `${family} in ${file}`).toContain(family);
    }
  });
  it.each(cases)('$name: 16 requests alone, batched with the 15 others, and through the single-sequence path agree', async ({ name, options }) => {
    const path = join(dir, `${name.replace(/\W+/g, '-')}.gguf`);
    makeRandomModel({ ...options, size: 'tiny', seed: 3, gguf: path });
    // prompts of 3…78 tokens: longer ones span several prefill chunks and pass the original context of the scaled-RoPE models
    await expectBatchingEqualsGenerate(path, { requests: 16, maxTokens: 24, alone: true });
  });
});
