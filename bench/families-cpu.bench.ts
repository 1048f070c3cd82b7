/**
 * npx tsx bench/run.ts families-cpu [--size=110m|tiny] [--families=llama,qwen3,mistral3,phi3] [--reps=5] [--threads=1]
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
 */
import { performance } from 'node:perf_hooks';
import { familyModels } from './e2e.bench.js';
import { median, printTable, writeResults, type Row } from './lib.js';
import { getBackend, setThreads } from '../ts/backend/index.js';
import type { Backend } from '../ts/backend/types.js';
import { openModelFile } from '../ts/formats/model-file.js';
import { buildTransformer } from '../ts/models/registry.js';

const PROMPT = 128;
const GENERATE = 128;

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
  const families = opt('families', 'llama,qwen3,mistral3,phi3').split(',');
  if (families[0] !== 'llama') families.unshift('llama');
  const reps = Number(opt('reps', '5'));
  const threads = Number(opt('threads', '1'));
  setThreads(threads);
  const { backend, calls } = counting(getBackend('native'));
  const models = (await familyModels(size, families)).map((m) => {
    const file = openModelFile(m.path);
    return { ...m, file, model: buildTransformer(file, backend, { contextLength: PROMPT + GENERATE + 8 }) };
  });
  const cpu = new Map<string, number[]>();
  const wall = new Map<string, number[]>();
  const perTok = new Map<string, number>();
  for (let r = 0; r < reps; r++) {
    for (const { family, model } of models) {
      const V = model.config.vocabSize;
      let x = (r * 2654435761 + 12345) >>> 0;
      const prompt = Int32Array.from({ length: PROMPT }, () => {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        return 3 + (x % (V - 3));
      });
      let logits = model.forward(prompt, 0);
      const one = new Int32Array(1);
      const n0 = calls();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < GENERATE; i++) {
        one[0] = backend.argmax(logits);
        logits = model.forward(one, PROMPT + i);
      }
      const wallMs = (performance.now() - t0) / GENERATE;
      const c = process.cpuUsage(c0);
      perTok.set(family, (calls() - n0) / GENERATE);
      (cpu.get(family) ?? cpu.set(family, []).get(family)!).push((c.user + c.system) / 1000 / GENERATE);
      (wall.get(family) ?? wall.set(family, []).get(family)!).push(wallMs);
    }
  }
  const base = median(cpu.get('llama')!);
  const rows: Row[] = models.map(({ name, family, model }) => ({
    model: name,
    layers: model.config.nLayers,
    'cpu ms/tok': median(cpu.get(family)!),
    'cpu ÷ llama': median(cpu.get(family)!) / base,
    'wall ms/tok': median(wall.get(family)!),
    'calls/tok': perTok.get(family) ?? null,
  }));
  for (const m of models) {
    m.model.dispose();
    m.file.close();
  }
  printTable(`families-cpu: ${size}, ${threads} thread(s), ${PROMPT}-token prompt then ${GENERATE} greedy tokens (medians of ${reps}, families alternating)`, rows);
  writeResults('families-cpu', { size, threads, reps, rows, samples: { cpu: Object.fromEntries(cpu), wall: Object.fromEntries(wall) } });
}
