/**
 * npx tsx bench/run.ts grammar [--model=PATH] [--tokens=N] [--reps=N] [--threads=N]
 *
 * What constrained sampling costs: greedy decode tokens/s of the same model with no constraint,
 * with `jsonObject` (any JSON object) and with a JSON Schema, on a 32k vocabulary. Default model:
 * the 110M-parameter random Llama (32000-token vocabulary) that bench/e2e writes to the temp dir
 * (made here when missing). A random model's choices rarely fit the grammar, so nearly every step
 * computes a mask: a worst case for the masking cost. Also reports the mask time of a fresh state
 * (no memo) on that vocabulary.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median, printTable, writeResults, type Row } from './lib.js';

const SCHEMA = {
  type: 'object',
  properties: {
    title: { type: 'string', maxLength: 400 },
    year: { type: 'integer', minimum: 0 },
    tags: { type: 'array', items: { type: 'string', maxLength: 40 }, maxItems: 20 },
    rating: { enum: ['good', 'bad'] },
  },
  required: ['title', 'year'],
};

export async function run(args: string[]): Promise<void> {
  const opt = (k: string, d: string): string => args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
  const tokens = Number(opt('tokens', '96'));
  const reps = Number(opt('reps', '3'));
  const threads = Number(opt('threads', '1'));
  let path = opt('model', '');
  if (!path) {
    const dir = join(tmpdir(), 'tensorloom-bench');
    path = join(dir, 'llama-110m-f32.gguf');
    if (!existsSync(path)) {
      mkdirSync(dir, { recursive: true });
      console.log(`writing ${path} (random 110M Llama, 32000-token vocabulary)…`);
      const { makeRandomModel } = await import('../scripts/make-random-model.js');
      makeRandomModel({ arch: 'llama', size: '110m', type: 'f32', seed: 1, gguf: path });
    }
  }
  const { loadModel } = await import('../ts/generate/index.js');
  const { compileGrammar, jsonSchemaToGrammar } = await import('../ts/grammar/index.js');
  const { openModelFile } = await import('../ts/formats/model-file.js');
  const { openTokenizer } = await import('../ts/generate/tokenizer.js');
  const { modelConfig } = await import('../ts/models/registry.js');

  // Mask cost of a fresh state on this vocabulary (what a rejected sample pays the first time).
  const mf = openModelFile(path);
  const tok = openTokenizer(mf, modelConfig(mf).vocabSize).tokenizer;
  const table = tok.tokenTable!();
  const vocab = table.offsets.length - 1;
  const tTrie = performance.now();
  const compiled = compileGrammar(jsonSchemaToGrammar(SCHEMA), table);
  const trieMs = performance.now() - tTrie;
  const c = compiled.start([]);
  const t0 = performance.now();
  c.mask(); // at '{': most tokens are cut at their first byte
  const maskStartMs = performance.now() - t0;
  c.acceptText('{"title": "');
  const t1 = performance.now();
  c.mask(); // inside a string: nearly every token is allowed, the whole trie is walked
  const maskStringMs = performance.now() - t1;
  mf.close();

  const model = await loadModel(path, { worker: false, threads, contextLength: 512 });
  const cases: [string, Record<string, unknown>][] = [
    ['none (ignoreEos)', { ignoreEos: true }],
    ['jsonObject', { jsonObject: true }],
    ['jsonSchema', { jsonSchema: SCHEMA }],
  ];
  const rows: Row[] = [];
  let base = 0;
  await model.generate('warm up', { maxTokens: 8, temperature: 0 });
  for (const [name, extra] of cases) {
    const tps: number[] = [];
    let n = 0;
    for (let r = 0; r < reps; r++) {
      const res = await model.generate(`Review number ${r}:`, { temperature: 0, maxTokens: tokens, ...extra });
      tps.push(res.timings.decodeTokensPerSecond);
      n = res.tokens.length;
    }
    const m = median(tps);
    if (!base) base = m;
    rows.push({ constraint: name, tokens: n, 'decode tok/s': Number(m.toFixed(1)), 'vs none': base ? `${(((m - base) / base) * 100).toFixed(1)}%` : '' });
  }
  await model.dispose();
  printTable(`grammar: greedy decode with and without a constraint (${vocab}-token vocabulary, ${threads} thread(s), median of ${reps})`, rows);
  printTable('grammar: one-off costs', [
    { what: 'compile grammar + build the vocabulary byte trie', ms: Number(trieMs.toFixed(1)) },
    { what: 'mask, fresh state, at "{" (few tokens allowed)', ms: Number(maskStartMs.toFixed(2)) },
    { what: 'mask, fresh state, inside a string (nearly all allowed)', ms: Number(maskStringMs.toFixed(2)) },
  ]);
  writeResults('grammar', { model: path, vocab, threads, tokens, reps, rows, trieMs, maskStartMs, maskStringMs });
}
