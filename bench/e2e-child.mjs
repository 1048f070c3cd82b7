/**
 * One case of the e2e bench (bench/e2e.bench.ts), in a process of its own so that its peak RSS is
 * the engine's alone: plain JavaScript run by plain `node` (no tsx, no bench helpers, no second
 * copy of tensorloom), importing nothing but the engine under test. The parent works out what the
 * case needs from the file (vocabulary, context) and passes it in.
 *
 *   node bench/e2e-child.mjs ours|peer MODULE_URL MODEL_PATH THREADS REPS VOCAB CONTEXT PROMPT GENERATE
 *
 * MODULE_URL: tensorloom's entry (dist/esm/index.js; ts/index.ts only under tsx) or node-llama-cpp's.
 * Prints one line `@@{json}` (CaseResult) on success.
 */
import { readFileSync } from 'node:fs';

const [engine, moduleUrl, path, threadsArg, repsArg, vocabArg, contextArg, promptArg, generateArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const reps = Number(repsArg);
const vocab = Number(vocabArg);
const contextLength = Number(contextArg);
const PROMPT = Number(promptArg);
const GENERATE = Number(generateArg);

/**
 * This process's peak resident set in MiB: VmHWM of /proc/self/status on Linux. Not
 * process.resourceUsage().maxRSS: Linux carries ru_maxrss across exec, so a child made by fork +
 * exec reports at least the RSS its parent had at the fork (under a parent holding 500 MB, a bare
 * `node -e ''` child reports maxRSS 504 MB and VmHWM 39 MB). Elsewhere maxRSS is all there is.
 */
function peakRssMB() {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** @param {number[]} xs */
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/** Random prompt ids in [3, vocab) from a small LCG (ids 0–2 are UNK/BOS/EOS in Llama vocabularies). */
function prompt(seed) {
  let x = (seed * 2654435761) >>> 0 || 1;
  return Array.from({ length: PROMPT }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 3 + (x % (vocab - 3));
  });
}

async function ours() {
  const { loadModel } = await import(moduleUrl);
  const t0 = performance.now();
  // TL_BENCH_KV_CACHE=f16: the KV cache in f16, as llama.cpp keeps it by default (bench --kv-cache)
  const kvCache = process.env.TL_BENCH_KV_CACHE || undefined;
  const model = await loadModel(path, { threads, backend: 'native', contextLength, ...(kvCache ? { kvCache } : {}) });
  const loadMs = performance.now() - t0;
  const prefill = [];
  const decode = [];
  await model.generate(prompt(999), { temperature: 0, maxTokens: 16, ignoreEos: true }); // warm-up
  for (let r = 0; r < reps; r++) {
    const res = await model.generate(prompt(r + 1), { temperature: 0, maxTokens: GENERATE, ignoreEos: true });
    if (res.usage.cachedPromptTokens !== 0 || res.tokens.length !== GENERATE) throw new Error('bench: unexpected cache reuse or early stop');
    prefill.push(res.timings.prefillTokensPerSecond);
    decode.push(res.timings.decodeTokensPerSecond);
  }
  const layers = model.info.config.nLayers;
  await model.dispose();
  return { loadMs, prefillTps: median(prefill), decodeTps: median(decode), peakRssMB: peakRssMB(), layers, prefillSamples: prefill, decodeSamples: decode };
}

async function peer() {
  const { getLlama, LlamaLogLevel } = await import(moduleUrl);
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
  const t0 = performance.now();
  const model = await llama.loadModel({ modelPath: path });
  const ctx = await model.createContext({ contextSize: 512, threads, batchSize: 512 });
  const loadMs = performance.now() - t0;
  const seq = ctx.getSequence();
  const prefill = [];
  const decode = [];
  /** @returns {Promise<[number, number]>} */
  const once = async (ids, n) => {
    await seq.clearHistory();
    const a = performance.now();
    await seq.evaluateWithoutGeneratingNewTokens(ids);
    const b = performance.now();
    let k = 0;
    for await (const _ of seq.evaluate([ids[0]], { temperature: 0, yieldEogToken: true })) if (++k >= n) break;
    const c = performance.now();
    if (k < n) throw new Error(`node-llama-cpp stopped after ${k} of ${n} tokens`);
    return [(ids.length * 1000) / (b - a), (k * 1000) / (c - b)];
  };
  await once(prompt(999), 16); // warm-up
  for (let r = 0; r < reps; r++) {
    const [p, d] = await once(prompt(r + 1), GENERATE);
    prefill.push(p);
    decode.push(d);
  }
  return { loadMs, prefillTps: median(prefill), decodeTps: median(decode), peakRssMB: peakRssMB(), prefillSamples: prefill, decodeSamples: decode };
}

(engine === 'ours' ? ours() : peer()).then(
  (r) => {
    process.stdout.write(`\n@@${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
