/**
 * llama.cpp compiled for this CPU (bench/peers/build-llama.sh) as a bench peer: where its binaries
 * are, `llama-bench` runs and the parsing of its JSON, and the weight bytes a decode step reads (for
 * the bandwidth bound of bench/e2e). The binaries are a bench option: when they are absent the
 * benches say so in the column and carry on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { GGUFFile } from '../ts/formats/gguf.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The cache directory of build-llama.sh: $TL_LLAMA_NATIVE, else bench/peers/llama-native. */
export function llamaNativeDir(): string {
  return process.env.TL_LLAMA_NATIVE || join(here, 'peers', 'llama-native');
}

/** The path of a built tool (llama-bench, llama-server, llama-cli), or why there is none. */
export function llamaNativeTool(name: 'llama-bench' | 'llama-server' | 'llama-cli'): { path: string } | { missing: string } {
  const path = join(llamaNativeDir(), 'src', 'build', 'bin', name);
  if (existsSync(path)) return { path };
  return { missing: `native ${name} not built (bash bench/peers/build-llama.sh; TL_LLAMA_NATIVE=${llamaNativeDir()})` };
}

export interface LlamaBenchResult {
  /** Mean tok/s of the prompt test (pp), as llama-bench reports it. */
  prefillTps: number;
  /** Mean tok/s of the generation test (tg). */
  decodeTps: number;
  prefillSamples: number[];
  decodeSamples: number[];
  threads: number;
  /** Bytes of the model's tensors (llama-bench's model_size). */
  modelBytes: number;
  buildCommit: string;
  cpuInfo: string;
  /** Cached tokens before the generation test's first token (llama-bench's n_depth; 0 when it has none). */
  decodeDepth: number;
}

/** One test entry of `llama-bench -o json` (only the fields we read). */
interface LlamaBenchEntry {
  n_prompt: number;
  n_gen: number;
  n_depth?: number;
  n_threads: number;
  avg_ts: number;
  samples_ts: number[];
  model_size: number;
  build_commit: string;
  cpu_info: string;
}

/**
 * Parses `llama-bench -o json` output: a JSON array with one entry per test; the prompt test has
 * n_prompt > 0 and n_gen = 0, the generation test n_gen > 0 and n_prompt = 0. Exactly one of each
 * is expected (one model, one thread count); anything else is an error naming what was found.
 */
export function parseLlamaBenchJson(text: string): LlamaBenchResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`llama-bench output is not JSON (${(err as Error).message}): ${text.slice(0, 80)}`);
  }
  if (!Array.isArray(parsed)) throw new Error('llama-bench JSON: expected an array of tests');
  const entries = parsed as Partial<LlamaBenchEntry>[];
  const num = (e: Partial<LlamaBenchEntry>, k: keyof LlamaBenchEntry): number => {
    const v = e[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`llama-bench JSON: test field '${k}' is missing or not a number`);
    return v;
  };
  const pick = (kind: 'prompt' | 'gen'): Partial<LlamaBenchEntry> => {
    const found = entries.filter((e) => (kind === 'prompt' ? num(e, 'n_prompt') > 0 && num(e, 'n_gen') === 0 : num(e, 'n_gen') > 0 && num(e, 'n_prompt') === 0));
    if (found.length !== 1) throw new Error(`llama-bench JSON: expected one ${kind === 'prompt' ? 'prompt (pp)' : 'generation (tg)'} test, found ${found.length}`);
    return found[0]!;
  };
  const pp = pick('prompt');
  const tg = pick('gen');
  const samples = (e: Partial<LlamaBenchEntry>): number[] => (Array.isArray(e.samples_ts) ? e.samples_ts.filter((x): x is number => typeof x === 'number') : []);
  return {
    prefillTps: num(pp, 'avg_ts'),
    decodeTps: num(tg, 'avg_ts'),
    prefillSamples: samples(pp),
    decodeSamples: samples(tg),
    threads: num(tg, 'n_threads'),
    modelBytes: num(tg, 'model_size'),
    buildCommit: String(tg.build_commit ?? ''),
    cpuInfo: String(tg.cpu_info ?? ''),
    decodeDepth: typeof tg.n_depth === 'number' ? tg.n_depth : 0,
  };
}

/**
 * `llama-bench -m FILE -p prompt -n gen -t threads -r reps -o json` (its own warm-up run first),
 * CPU only. Resolves with the result, or a one-line reason when it cannot run or fails.
 * `decodeDepth` > 0: the generation test runs separately with `-p 0 -n gen -d decodeDepth`, its
 * tokens generated after that many cached ones, as ours are after the prompt (the plain tg test
 * starts from an empty cache, so its attention reads a shorter, f16 cache: at 1 thread on the 110M
 * q8_0 model its tg128 is ~5-10 % faster in CPU time at depth 0 than at depth 128).
 */
export async function runLlamaBench(
  file: string,
  opts: { prompt: number; generate: number; threads: number; reps: number; decodeDepth?: number; timeoutMs?: number },
): Promise<LlamaBenchResult | string> {
  const tool = llamaNativeTool('llama-bench');
  if ('missing' in tool) return tool.missing;
  const depth = opts.decodeDepth ?? 0;
  if (!Number.isInteger(depth) || depth < 0) return `decodeDepth must be an integer >= 0, got ${depth}`;
  const common = ['-m', file, '-t', String(opts.threads), '-r', String(opts.reps), '-ngl', '0', '-o', 'json'];
  const runs = depth > 0
    ? [['-p', String(opts.prompt), '-n', '0'], ['-p', '0', '-n', String(opts.generate), '-d', String(depth)]]
    : [['-p', String(opts.prompt), '-n', String(opts.generate)]];
  try {
    const tests: unknown[] = [];
    for (const r of runs) {
      const { stdout } = await promisify(execFile)(tool.path, [...common, ...r], { timeout: opts.timeoutMs ?? 900_000, maxBuffer: 16 << 20 });
      const parsed: unknown = JSON.parse(stdout);
      if (!Array.isArray(parsed)) throw new Error('llama-bench JSON: expected an array of tests');
      tests.push(...(parsed as unknown[]));
    }
    return parseLlamaBenchJson(JSON.stringify(tests));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr || e.message).trim().split('\n').slice(-2).join(' ');
  }
}

/** The expert tensors of a MoE layer (ffn_gate_exps, ffn_up_exps, ffn_down_exps, …). */
const EXPERT_TENSOR = /_exps\.weight$/;

/**
 * Bytes of weights one decode step reads, from the GGUF header: every tensor once, except the
 * token embedding (one row per token, unless it is also the LM head: no output.weight) and MoE
 * expert tensors (only expert_used_count of expert_count experts). The KV cache is not counted.
 */
export function weightBytesPerToken(g: GGUFFile): number {
  const arch = g.metadata.get('general.architecture');
  const meta = (key: string): number | undefined => {
    const v = g.metadata.get(`${String(arch)}.${key}`);
    return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
  };
  const experts = meta('expert_count') ?? 0;
  const used = meta('expert_used_count') ?? experts;
  const tied = !g.tensors.some((t) => t.name === 'output.weight');
  let bytes = 0;
  for (const t of g.tensors) {
    if (t.name === 'token_embd.weight' && !tied) {
      const rows = t.dims.slice(1).reduce((a, b) => a * b, 1);
      bytes += t.byteLength / rows;
    } else if (EXPERT_TENSOR.test(t.name) && experts > 0) {
      bytes += (t.byteLength * used) / experts;
    } else bytes += t.byteLength;
  }
  return bytes;
}
