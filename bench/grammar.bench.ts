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
  const replay = await replaySampling(path, threads, tokens);
  printTable(`grammar: greedy decode with and without a constraint (${vocab}-token vocabulary, ${threads} thread(s), median of ${reps})`, rows);
  printTable('grammar: one-off costs', [
    { what: 'compile grammar + build the vocabulary byte trie', ms: Number(trieMs.toFixed(1)) },
    { what: 'mask, fresh state, at "{" (few tokens allowed)', ms: Number(maskStartMs.toFixed(2)) },
    { what: 'mask, fresh state, inside a string (nearly all allowed)', ms: Number(maskStringMs.toFixed(2)) },
  ]);
  printTable('grammar: constrained sampling time per token minus plain sampling on the same logits, vs the forward pass (a ratio that machine load moves less than tok/s)', replay);
  writeResults('grammar', { model: path, vocab, threads, tokens, reps, rows, trieMs, maskStartMs, maskStringMs, replay });
}

/**
 * Decodes under each constraint and sampling setting once (a cold grammar: new trie, no memo),
 * timing the constrained sampling and the forward pass of every step and recording the logits;
 * then times the plain sampler on the same logits. Reports the extra milliseconds per token as a
 * share of the forward pass. A loaded machine slows both alike, so this moves less than tok/s.
 */
async function replaySampling(path: string, threads: number, tokens: number): Promise<Row[]> {
  const { loadLocalDecoder: loadLocal } = await import('../ts/generate/load-local.js');
  const { ConstrainedSampler } = await import('../ts/generate/constrained-sample.js');
  const { Sampler, resolveSampling } = await import('../ts/generate/sampler.js');
  const { compileGrammar, grammarFromOptions } = await import('../ts/grammar/compile.js');
  const local = await loadLocal(path, { threads, contextLength: 512 });
  const { engine } = local;
  const model = engine.model;
  const table = engine.tokenizer.tokenTable!();
  const V = model.config.vocabSize;
  const rows: Row[] = [];
  const settings: [string, Record<string, number>][] = [
    ['greedy', { temperature: 0 }],
    ['T 0.8, top-k 40, top-p 0.95, min-p 0.05', { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05 }],
    ['T 1 (no truncation)', { temperature: 1 }],
  ];
  for (const [cname, gopts] of [['jsonObject', { jsonObject: true }], ['jsonSchema', { jsonSchema: SCHEMA }]] as const) {
    const gbnf = grammarFromOptions(gopts)!;
    for (const [sname, sopts] of settings) {
      const sampling = resolveSampling({ ...sopts, seed: 1 });
      // record
      const compiled = compileGrammar(gbnf, { ...table }); // a new table object: a cold trie, grammar and mask memo
      const cs = new ConstrainedSampler(new Sampler(V, (x) => model.backend.argmax(x)), V);
      (cs as unknown as { sampler: InstanceType<typeof Sampler> }).sampler.reset(sampling);
      const c = compiled.start(engine.eosIds);
      const ids = engine.encode('Review:', true);
      const history = new Int32Array(512);
      history.set(ids);
      let len = ids.length;
      model.cache.length = 0;
      let logits = model.forward(Int32Array.from(ids), 0);
      const steps: { logits: Float32Array; id: number; len: number }[] = [];
      let forwardMs = 0;
      let constrainedMs = 0;
      for (let i = 0; i < tokens && len < 500; i++) {
        const copy = logits.slice();
        const t0 = performance.now();
        const id = cs.sample(c, sampling, logits, history, len);
        constrainedMs += performance.now() - t0;
        steps.push({ logits: copy, id, len });
        if (engine.eosIds.includes(id) || (c.accept(id), c.finished)) break;
        history[len] = id;
        const t = performance.now();
        logits = model.forward(Int32Array.of(id), len);
        forwardMs += performance.now() - t;
        len++;
      }
      // the plain sampler on the same logits
      const plain = new Sampler(V, (x) => model.backend.argmax(x));
      plain.reset(sampling);
      let plainMs = 0;
      for (const st of steps) {
        const l = st.logits.slice();
        const t = performance.now();
        plain.sample(l, history, st.len);
        plainMs += performance.now() - t;
      }
      const n = Math.max(1, steps.length - 1);
      const extra = (constrainedMs - plainMs) / steps.length;
      rows.push({
        constraint: cname,
        sampling: sname,
        steps: steps.length,
        'forward ms/token': Number((forwardMs / n).toFixed(1)),
        'extra sampling ms/token': Number(extra.toFixed(2)),
        'cost vs forward': `${((extra / (forwardMs / n)) * 100).toFixed(1)}%`,
        'plain/shortcut/mask': `${cs.stats.plain}/${cs.stats.shortcut}/${cs.stats.masked}`,
      });
    }
  }
  local.close();
  return rows;
}
