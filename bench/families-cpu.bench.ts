/**
 * npx tsx bench/run.ts families-cpu [--size=110m|tiny] [--families=llama,qwen3,mistral3,phi3|all] [--reps=5] [--threads=1] [--type=q4_k_m] [--kv-cache=f16] [--no-nlc]
 *
 * Decode cost per token of each family's random model (bench/e2e.bench.ts `familyModels`: 110M in
 * q8_0, tiny in f32) relative to plain llama, all in one process with the families taking turns
 * rep by rep, measured in CPU time (process.cpuUsage: user + system of every thread) as well as
 * wall time. On a machine shared with other jobs, wall time per token swings by 2× between runs a
 * minute apart (e2e's `ms/tok ÷ llama` compares separate processes run minutes apart); the CPU time
 * a token takes moves far less. Each rep: a 128-token random prompt, then 128 greedy tokens, one
 * `Transformer.forward` per token (no worker thread, sampler or detokenizer: the model's own cost).
 * `calls/tok`: backend calls per decoded token (each native op crosses N-API once), counted by a
 * wrapper that adds no work. Results: medians of the reps.
 *
 * nlc columns (unless --no-nlc, or node-llama-cpp is not installed in bench/peers): node-llama-cpp
 * (llama.cpp) on the same file, in the same process, prompted the same way, then both generations
 * advanced in turns of 16 tokens (who goes first flips every turn), each turn timed in CPU time
 * (its greedy sampler included, as ours includes argmax; at 1 thread llama.cpp computes on one
 * thread, so nothing spins; at 2+ its workers spin between ops, which CPU time charges to it:
 * compare wall there). On this shared 2-core VM even CPU time per token swings by ±30 % between
 * runs seconds apart (steal, a co-runner's cache traffic), so the whole-run medians of either side
 * do not make a ratio: `×nlc (cpu)` is the median over every turn pair of nlc's ÷ ours (two
 * adjacent 0.1 s windows see the same load), `×nlc IQR` its middle half; `×nlc (wall)` likewise
 * in wall time. `--families=all`: every family e2e's families-110m benches at q8_0 (gemma4 and
 * the hybrids, written in f16 there, left out). `--type=T` (110M): each family written in f16 and
 * quantized to T by llama.cpp's quantizer (e.g. q4_k_m, the mix most downloads use) instead of q8_0.
 * `--kv-cache=f16`: our KV cache in f16, as llama.cpp keeps its own (default: f32).
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { FAMILIES, familyModels, peersPath } from './e2e.bench.js';
import { median, printTable, writeResults, type Row } from './lib.js';
import { getBackend, setThreads } from '../ts/backend/index.js';
import type { Backend } from '../ts/backend/types.js';
import { openModelFile } from '../ts/formats/model-file.js';
import { buildTransformer } from '../ts/models/registry.js';

const PROMPT = 128;
const GENERATE = 128;
/** Tokens per timed turn: ours and nlc's alternate every CHUNK tokens of one generation. */
const CHUNK = 16;

/** `b` with every function property counted (same calls, same arguments). */
function counting(b: Backend): { backend: Backend; calls: () => number } {
  let n = 0;
  const backend = new Proxy(b, {
    get(target, key, receiver) {
      const v: unknown = Reflect.get(target, key, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        n++;
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { backend, calls: () => n };
}

export async function run(flags: string[]): Promise<void> {
  const opt = (name: string, def: string): string => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? def;
  const size = opt('size', '110m') === 'tiny' ? 'tiny' : '110m';
  const fam = opt('families', 'llama,qwen3,mistral3,phi3');
  // all: the q8_0-capable families (gemma4 and the hybrids are written in f16 at 110M: another baseline)
  const families = fam === 'all' ? FAMILIES.map((f) => f.name).filter((n) => !['gemma4', 'qwen35', 'qwen3next'].includes(n)) : fam.split(',');
  if (families[0] !== 'llama') families.unshift('llama');
  const reps = Number(opt('reps', '5'));
  const threads = Number(opt('threads', '1'));
  setThreads(threads);
  const { backend, calls } = counting(getBackend('native'));
  const quant = opt('type', '') || undefined;
  const kvCache = opt('kv-cache', 'f32');
  if (kvCache !== 'f16' && kvCache !== 'f32') throw new Error(`families-cpu: --kv-cache=${kvCache}: expected f16 or f32`);
  if (quant && size !== '110m') throw new Error('families-cpu: --type is for --size=110m');
  const models = (await familyModels(size, families, quant)).map((m) => {
    const file = openModelFile(m.path);
    return { ...m, file, model: buildTransformer(file, backend, { contextLength: PROMPT + GENERATE + 8, kvCache }) };
  });
  const peers = flags.includes('--no-nlc') ? null : peersPath();
  if (!peers && !flags.includes('--no-nlc')) console.log('node-llama-cpp is not installed (npm ci --prefix bench/peers --omit=optional): nlc columns empty');
  const nlc = peers ? await nlcPeer(peers, threads) : null;
  const nlcSeqs = new Map<string, NlcSequence>();
  if (nlc) for (const m of models) nlcSeqs.set(m.family, await nlc.open(m.path));
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const nlcCpu = new Map<string, number[]>();
  const nlcWall = new Map<string, number[]>();
  /** nlc ÷ ours of each pair of adjacent chunks (CPU and wall). */
  const ratio = new Map<string, number[]>();
  const ratioWall = new Map<string, number[]>();
  const push = (m: Map<string, number[]>, k: string, v: number): void => void (m.get(k) ?? m.set(k, []).get(k)!).push(v);
  const perTok = new Map<string, number>();
  const promptOf = (r: number, V: number): Int32Array => {
    let x = (r * 2654435761 + 12345) >>> 0;
    return Int32Array.from({ length: PROMPT }, () => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return 3 + (x % (V - 3));
    });
  };
  const cpuMs = (): number => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  // rep −1 warms both sides up (first touch of the weights, workspaces, llama.cpp's graph) unrecorded
  for (let r = -1; r < reps; r++) {
    for (const { family, model } of models) {
      const V = model.config.vocabSize;
      const prompt = promptOf(r + 1, V);
      let logits = model.forward(prompt, 0);
      const one = new Int32Array(1);
      let pos = PROMPT;
      const oursChunk = (): { cpu: number; wall: number } => {
        const n0 = calls();
        const c0 = cpuMs();
        const t0 = performance.now();
        for (let i = 0; i < CHUNK; i++) {
          one[0] = backend.argmax(logits);
          logits = model.forward(one, pos++);
        }
        const t = { cpu: cpuMs() - c0, wall: performance.now() - t0 };
        perTok.set(family, (calls() - n0) / CHUNK);
        return t;
      };
      const seq = nlcSeqs.get(family);
      const gen = seq ? await seq.start(Array.from(prompt)) : null;
      // chunks of CHUNK tokens, ours and nlc's taking turns (who goes first flips every chunk)
      for (let c = 0; c < GENERATE / CHUNK; c++) {
        let o: { cpu: number; wall: number };
        let t: { cpu: number; wall: number } | null;
        if ((r + c) % 2 === 0) {
          o = oursChunk();
          t = gen ? await gen.next(CHUNK) : null;
        } else {
          t = gen ? await gen.next(CHUNK) : null;
          o = oursChunk();
        }
        if (r < 0) continue;
        push(cpu, family, o.cpu / CHUNK);
        push(wall, family, o.wall / CHUNK);
        if (!t) continue;
        push(nlcCpu, family, t.cpu / CHUNK);
        push(nlcWall, family, t.wall / CHUNK);
        push(ratio, family, t.cpu / o.cpu);
        push(ratioWall, family, t.wall / o.wall);
      }
      await gen?.stop();
    }
  }
  const base = median(cpu.get('llama')!);
  const med = (m: Map<string, number[]>, k: string): number | null => (m.get(k)?.length ? median(m.get(k)!) : null);
  /** The middle half of the paired ratios, [q1, q3]: how far one chunk pair strays. */
  const iqr = (k: string): string | null => {
    const v = [...(ratio.get(k) ?? [])].sort((x, y) => x - y);
    return v.length ? `${v[Math.floor(v.length / 4)]!.toFixed(2)}–${v[Math.floor((3 * v.length) / 4)]!.toFixed(2)}` : null;
  };
  const rows: Row[] = models.map(({ name, family, model }) => {
    const ours = median(cpu.get(family)!);
    return {
      model: name,
      layers: model.config.nLayers,
      'cpu ms/tok': ours,
      'cpu ÷ llama': ours / base,
      'nlc cpu ms/tok': med(nlcCpu, family),
      '×nlc (cpu)': med(ratio, family),
      '×nlc IQR': iqr(family),
      'wall ms/tok': median(wall.get(family)!),
      'nlc wall ms/tok': med(nlcWall, family),
      '×nlc (wall)': med(ratioWall, family),
      'calls/tok': perTok.get(family) ?? null,
    };
  });
  for (const m of models) {
    m.model.dispose();
    m.file.close();
  }
  await nlc?.dispose();
  printTable(`families-cpu: ${size}, ${threads} thread(s), ${PROMPT}-token prompt then ${GENERATE} greedy tokens (medians of ${reps}, families alternating)`, rows);
  writeResults('families-cpu', { size, type: quant ?? (size === '110m' ? 'q8_0' : 'f32'), kvCache, threads, reps, chunk: CHUNK, rows, samples: { cpu: Object.fromEntries(cpu), wall: Object.fromEntries(wall), nlcCpu: Object.fromEntries(nlcCpu), nlcWall: Object.fromEntries(nlcWall), ratio: Object.fromEntries(ratio), ratioWall: Object.fromEntries(ratioWall) } });
}

interface NlcGeneration {
  /** The next n greedy tokens: their CPU time (the whole process's) and wall time, in ms. */
  next(n: number): Promise<{ cpu: number; wall: number }>;
  stop(): Promise<void>;
}

interface NlcSequence {
  /** Evaluates `prompt` from an empty history; the generation after it runs a chunk per next(). */
  start(prompt: number[]): Promise<NlcGeneration>;
}

/**
 * node-llama-cpp loaded in this process (CPU build, `threads` threads), as e2e's peer case drives it:
 * one context of 512 positions per model file, prompt by evaluateWithoutGeneratingNewTokens, then
 * greedy tokens from evaluate. CPU time is the whole process's (its compute runs on a libuv worker).
 */
async function nlcPeer(entry: string, threads: number): Promise<{ open(path: string): Promise<NlcSequence>; dispose(): Promise<void> }> {
  type Seq = {
    clearHistory(): Promise<void>;
    evaluateWithoutGeneratingNewTokens(t: number[]): Promise<void>;
    evaluate(t: number[], o: object): AsyncGenerator<number>;
  };
  type Ctx = { getSequence(): Seq; dispose(): Promise<void> };
  type Model = { createContext(o: object): Promise<Ctx>; dispose(): Promise<void> };
  const { getLlama, LlamaLogLevel } = (await import(pathToFileURL(entry).href)) as {
    getLlama(o: object): Promise<{ loadModel(o: object): Promise<Model> }>;
    LlamaLogLevel: Record<string, unknown>;
  };
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: LlamaLogLevel.error });
  const owned: Array<Model | Ctx> = [];
  return {
    async open(path) {
      const model = await llama.loadModel({ modelPath: path });
      const ctx = await model.createContext({ contextSize: 512, threads, batchSize: 512 });
      owned.push(ctx, model);
      const seq = ctx.getSequence();
      return {
        async start(prompt) {
          await seq.clearHistory();
          await seq.evaluateWithoutGeneratingNewTokens(prompt);
          // each next() of evaluate's generator runs one decode step (it waits at the yield)
          const it = seq.evaluate([prompt[0]!], { temperature: 0, yieldEogToken: true })[Symbol.asyncIterator]();
          let made = 0;
          return {
            async next(n) {
              const c0 = process.cpuUsage();
              const t0 = performance.now();
              for (let i = 0; i < n; i++) {
                if ((await it.next()).done) throw new Error(`node-llama-cpp stopped after ${made} tokens`);
                made++;
              }
              const wall = performance.now() - t0;
              const c = process.cpuUsage(c0);
              return { cpu: (c.user + c.system) / 1000, wall };
            },
            async stop() {
              await it.return?.(undefined);
            },
          };
        },
      };
    },
    async dispose() {
      for (const o of owned) await o.dispose();
    },
  };
}
