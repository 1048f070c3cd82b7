/**
 * npx tsx bench/run.ts e2e [--quick] [--threads=1,2] [--kv-cache=f16] [--models=stories,110m,110m-quant,1b,families-tiny,families-110m,qwen35-0.8b] [--reps=N] [--rounds=N] [--types=q8_0,q4_k_m]
 *
 * End to end: prefill and decode tokens/s (a 128-token prompt, 128 generated, greedy, EOS
 * ignored), load time and peak RSS, tensorloom (native backend, model in its worker thread) next
 * to node-llama-cpp (llama.cpp) on the same GGUF file with the same thread count, in the same run.
 * Every (engine, model, threads) case runs in its own child process (bench/e2e-child.mjs: plain
 * node importing only that engine), so peak RSS is that case's: VmHWM, the same for both engines.
 * tensorloom is loaded from dist/esm when that build is current (run `npm run build:ts` first),
 * else from the TS sources under tsx (then the worker compiles TS on start, inflating the load
 * time, and tsx in both threads adds ~70 MB to the RSS column).
 * Models: stories260K f32 (../shared); the 110M-parameter random Llama in f32 / f16 / q8_0
 * (written to the temp dir by scripts/make-random-model.ts when missing); `110m-quant`: that model
 * quantized by llama.cpp's own quantizer (../shared/tools/llama-quantize.sh) to q6_k, q5_k_m,
 * q4_k_m, q4_0 and q8_0 (q8_0 only when `110m`, which has its own, does not run), or to the --types given; `1b`: a random Llama-3.2-1B-shaped model (dim 2048, 16 layers, 32 heads,
 * 8 KV heads, FFN 8192, vocab 128256; written as f16, ≈ 2.5 GB) quantized to q4_k_m and q8_0
 * (`tiny-quant`: the same path on a tiny model, to check the bench itself in seconds).
 * When llama-quantize.sh cannot run, the quantized files come from `tensorloom convert` (same
 * bytes per type, see test/backend/quantize.test.ts) and the model name says so.
 * `families-tiny` / `families-110m`: one random model per family of the architecture table (FAMILIES:
 * llama, Llama 3 RoPE scaling, Mixtral, qwen2, qwen3, qwen3moe, smollm3, mistral3, gemma2, gemma3,
 * gemma4, phi3, gpt2, and the hybrids qwen35 and qwen3next), tiny-shaped in f32 and 110M-shaped in
 * q8_0 (gemma4 and the hybrids in f16). `ms/tok ÷ llama`: decode time per token relative to plain
 * llama of the same size and thread count (≤ 1: not slower); `layers` says the depth (the tiny
 * smollm3, gemma3 and gemma4 have 4, 6 and 6 layers where tiny llama has 2). `--families=a,b` runs
 * only those (keep `llama` in the list for the comparison column); the 110M ones are long runs, so
 * run them a few families at a time. Check the tiny ones' code path with --reps=1.
 * `qwen35-0.8b`: a random Qwen3.5-0.8B-shaped hybrid (scripts/make-random-model.ts --size 0.8b: 24 layers,
 * dim 1024, Gated DeltaNet in 3 of 4, vocabulary cut to 32000) written in f16, quantized to q8_0 and q4_k_m.
 * Medians of `reps` runs, each on a different random prompt (so our KV-prefix reuse never applies).
 * `--types=q4_k_m,q8_0` keeps only the models of those weight types, run in that order (the most
 * wanted first, so a run stopped early has them).
 * `--rounds=N` (default 1): each case runs N times over, the engines taking turns (bandwidth, ours,
 * node-llama-cpp, llama-bench, then again), and every column is the median over the rounds. On a
 * shared host the neighbours' load comes in bursts of seconds to minutes: one burst during one
 * engine's turn moved a single ratio by up to 1.5×; taking turns puts each engine in the same bursts.
 *
 * Third engine: llama.cpp compiled for this CPU (bench/peers/build-llama.sh; its directory in
 * $TL_LLAMA_NATIVE): `llama-bench -m FILE -p 128 -n 0 -t T -r reps -o json` and `-p 0 -n 128 -d 128`
 * on the same file (its mean tok/s of `reps` runs after its own warm-up; the generation at depth 128,
 * after as many cached tokens as ours decode after: llama-bench's plain tg128 starts from an empty
 * cache, which at 1 thread on the 110M q8_0 model made it ~5-10 % faster than at our depth). When it is not built its columns say so.
 * Ratios: ours / llama-bench (×lb) and ours / node-llama-cpp (×nlc). Bandwidth bound: the streaming
 * read bandwidth (bench/peers/membw.c, measured at each thread count at the start, and again right
 * before each case: 'BW GB/s', the figure the case uses) ÷ the weight bytes one decode step reads
 * (every tensor, one embedding row, the used experts: bench/llama-native.ts) is the decode tok/s
 * memory allows; '% BW' is our decode tok/s as a share of it ('lb % BW' llama-bench's).
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { machine, median, printTable, writeResults, type Row } from './lib.js';
import { llamaNativeTool, runLlamaBench, weightBytesPerToken, type LlamaBenchResult } from './llama-native.js';
import { readBandwidth } from './membw.js';
import { readGGUF } from '../ts/formats/gguf.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');
const shared = [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared')].find(existsSync) ?? '';
const PROMPT = 128;
const GENERATE = 128;

interface CaseResult {
  loadMs: number;
  prefillTps: number;
  decodeTps: number;
  peakRssMB: number;
  /** tensorloom only: the model's layer count (the tiny families differ in depth). */
  layers?: number;
  prefillSamples: number[];
  decodeSamples: number[];
}

/** node-llama-cpp's entry in bench/peers (this worktree's or main's), or null when not installed. */
export function peersPath(): string | null {
  for (const root of [join(repoRoot, 'bench', 'peers'), join(repoRoot, '..', 'main', 'bench', 'peers'), join(repoRoot, '..', '..', 'main', 'bench', 'peers')]) {
    const p = join(root, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
    if (existsSync(p)) return p;
  }
  return null;
}

// ── child processes: one case each ──────────────────────────────────────────────────────────────

/** The compiled package when it is built and newer than every source file (what users load), else the TS sources. */
function oursSource(): { url: string; label: string } {
  const dist = join(repoRoot, 'dist', 'esm', 'index.js');
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((t, e) => Math.max(t, e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs), 0);
  if (existsSync(dist) && statSync(dist).mtimeMs >= newest(join(repoRoot, 'ts'))) return { url: pathToFileURL(dist).href, label: 'dist/esm' };
  return { url: pathToFileURL(join(repoRoot, 'ts', 'index.ts')).href, label: 'ts sources (tsx; slower worker start, RSS +~70 MB)' };
}

// ── the parent: models, cases, table ────────────────────────────────────────────────────────────

/**
 * One case in its own process (bench/e2e-child.mjs), so that its peak RSS is that engine's alone:
 * plain node importing only the engine, no tsx and no bench helpers (tsx alone holds 33 MB more at
 * start, 75 vs 42 MB, and the helpers imported tensorloom's sources: all of it was in each engine's
 * figure). Only tensorloom from its TS sources (dist not built or stale) needs tsx.
 */
async function runCase(engine: 'ours' | 'peer', path: string, threads: number, reps: number): Promise<CaseResult | string> {
  const child = join(here, 'e2e-child.mjs');
  let url: string;
  let runner: string[] = [];
  if (engine === 'ours') {
    const src = oursSource();
    url = src.url;
    if (!url.endsWith('.js')) runner = [join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs')];
  } else {
    const mod = peersPath();
    if (!mod) return 'node-llama-cpp is not installed';
    url = pathToFileURL(mod).href;
  }
  let vocab: number;
  let contextLength: number;
  try {
    const { openModelFile } = await import('../ts/formats/model-file.js');
    const { modelConfig } = await import('../ts/models/registry.js');
    using mf = openModelFile(path);
    const config = modelConfig(mf);
    vocab = config.vocabSize;
    // learned positions (GPT-2) cap the context: the tiny GPT-2 has 256, which 128 + 128 fits
    contextLength = Math.min(PROMPT + GENERATE + 8, config.contextLength);
  } catch (err) {
    return (err as Error).message;
  }
  try {
    const args = [...runner, child, engine, url, path, threads, reps, vocab, contextLength, PROMPT, GENERATE].map(String);
    const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: repoRoot, timeout: 600_000, maxBuffer: 16 << 20 });
    const line = stdout.split('\n').find((l) => l.startsWith('@@'));
    if (!line) return 'no result';
    return JSON.parse(line.slice(2)) as CaseResult;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    return (e.stderr || e.message).trim().split('\n').slice(-3).join(' ');
  }
}

/**
 * `src` quantized to `type` by llama.cpp's quantizer (llama-quantize.sh), cached next to it; when
 * the tool cannot run, by tensorloom's converter (byte-identical per type, see the tests).
 */
export async function quantized(src: string, type: string): Promise<{ path: string; by: string }> {
  const llamaPath = src.replace(/-(f32|f16)\.gguf$/, `-${type}.gguf`);
  if (existsSync(llamaPath)) return { path: llamaPath, by: 'llama.cpp' };
  const tool = join(shared, 'tools', 'llama-quantize.sh');
  if (existsSync(tool)) {
    console.log(`quantizing ${src} → ${type} (llama-quantize.sh) …`);
    const r = spawnSync('bash', [tool, src, `${llamaPath}.tmp`, type], { cwd: repoRoot, encoding: 'utf8' });
    if (r.status === 0) {
      spawnSync('mv', [`${llamaPath}.tmp`, llamaPath]);
      return { path: llamaPath, by: 'llama.cpp' };
    }
    console.log(`llama-quantize.sh failed (${r.stderr.trim().split('\n').pop()}); using tensorloom convert`);
  }
  const oursPath = llamaPath.replace(/\.gguf$/, '.tensorloom.gguf');
  if (!existsSync(oursPath)) {
    const { openModelFile } = await import('../ts/formats/model-file.js');
    const { convertModel } = await import('../ts/models/convert.js');
    using m = openModelFile(src);
    convertModel(m, oursPath, { type });
  }
  return { path: oursPath, by: 'tensorloom convert' };
}

/** A random Llama of `size` written once to the temp dir. */
export async function randomLlama(size: 'tiny' | '110m' | '1b', type: 'f32' | 'f16' | 'q8_0'): Promise<string> {
  const dir = join(tmpdir(), 'tensorloom-bench');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, `llama-${size}-${type}.gguf`);
  if (!existsSync(p)) {
    console.log(`writing ${p} (scripts/make-random-model.ts, seed 1) …`);
    const { makeRandomModel } = await import('../scripts/make-random-model.js');
    makeRandomModel({ arch: 'llama', size, type, seed: 1, gguf: p });
  }
  return p;
}

/**
 * Every decoder family of the architecture table, as `families-tiny` / `families-110m` bench it:
 * plain `llama` first (the baseline each family's decode time per token is compared with), then
 * Llama 3 RoPE scaling, Mixtral and the other families.
 */
export const FAMILIES = [
  { name: 'llama', options: { arch: 'llama' } },
  { name: 'llama3-rope', options: { arch: 'llama', ropeScaling: 'llama3' } },
  { name: 'mixtral-4x', options: { arch: 'llama', experts: 4 } },
  { name: 'qwen2', options: { arch: 'qwen2' } },
  { name: 'qwen3', options: { arch: 'qwen3' } },
  { name: 'qwen3moe', options: { arch: 'qwen3moe' } },
  { name: 'smollm3', options: { arch: 'smollm3' } },
  { name: 'mistral3', options: { arch: 'mistral3' } },
  { name: 'gemma2', options: { arch: 'gemma2' } },
  { name: 'gemma3', options: { arch: 'gemma3' } },
  { name: 'gemma4', options: { arch: 'gemma4' } },
  { name: 'phi3', options: { arch: 'phi3' } },
  { name: 'gpt2', options: { arch: 'gpt2' } },
  { name: 'qwen35', options: { arch: 'qwen35' } },
  { name: 'qwen3next', options: { arch: 'qwen3next' } },
] as const;
/** Families whose random writer takes f32 / f16 only (the 110M ones are benched in f16). */
const F16_ONLY = new Set(['qwen35', 'qwen3next', 'gemma4']);

const SIZE_LABEL = { tiny: 'tiny Llama', '110m': '110M Llama', '1b': '1B-shaped Llama' } as const;

export interface BenchModel {
  name: string;
  path: string;
  /** families-tiny / families-110m: the family and size, for the comparison with llama. */
  family?: string;
  size?: string;
}

/** The 110M model's quantized types: q6_k, q5_k_m, q4_k_m, q4_0, or the --types given (any type llama-quantize writes). */
const QUANT_110M = ['q6_k', 'q5_k_m', 'q4_k_m', 'q4_0', 'q8_0'];

async function benchModels(which: string[], only: string[] | null, types: string[] | null = null): Promise<BenchModel[]> {
  const out: BenchModel[] = [];
  if (which.includes('stories')) {
    const p = join(shared, 'models', 'stories260K', 'stories260K-f32.gguf');
    if (existsSync(p)) out.push({ name: 'stories260K f32', path: p });
    else console.log(`stories260K not found under ${shared || '../shared'}: skipped`);
  }
  if (which.includes('110m')) {
    for (const type of ['f32', 'f16', 'q8_0'] as const) out.push({ name: `110M Llama ${type}`, path: await randomLlama('110m', type) });
  }
  const quant: Array<['tiny' | '110m' | '1b', 'f32' | 'f16', string[]]> = [];
  if (which.includes('tiny-quant')) quant.push(['tiny', 'f32', ['q6_k', 'q4_k_m']]);
  if (which.includes('110m-quant')) {
    // with --types, the 110M model in those types (f32, f16 and, when 110m runs too, q8_0 are its own;
    // bf16 is written by llama.cpp's quantizer like the quantized types)
    const own = new Set(['f32', 'f16', ...(which.includes('110m') ? ['q8_0'] : [])]);
    quant.push(['110m', 'f32', (types ?? QUANT_110M).filter((t) => !own.has(t))]);
  }
  if (which.includes('1b')) quant.push(['1b', 'f16', ['q4_k_m', 'q8_0']]);
  for (const [size, base, types] of quant) {
    const src = await randomLlama(size, base);
    for (const type of types) {
      const q = await quantized(src, type);
      out.push({ name: `${SIZE_LABEL[size]} ${type}${q.by === 'llama.cpp' ? '' : ' (by tensorloom convert)'}`, path: q.path });
    }
  }
  if (which.includes('qwen35-0.8b')) {
    const dir = join(tmpdir(), 'tensorloom-bench');
    mkdirSync(dir, { recursive: true });
    const src = join(dir, 'qwen35-0.8b-f16.gguf');
    if (!existsSync(src)) {
      console.log(`writing ${src} (scripts/make-random-model.ts --arch qwen35 --size 0.8b, seed 1) …`);
      const { makeRandomModel } = await import('../scripts/make-random-model.js');
      makeRandomModel({ arch: 'qwen35', size: '0.8b', type: 'f16', seed: 1, gguf: src });
    }
    for (const type of ['q8_0', 'q4_k_m']) {
      const q = await quantized(src, type);
      out.push({ name: `Qwen3.5-0.8B-shaped ${type}${q.by === 'llama.cpp' ? '' : ' (by tensorloom convert)'}`, path: q.path });
    }
  }
  for (const size of ['tiny', '110m'] as const) {
    if (which.includes(`families-${size}`)) out.push(...(await familyModels(size, only)));
  }
  return out;
}

/**
 * The random model of each family (all of FAMILIES, or those in `only`) at `size`: tiny in f32,
 * 110M in q8_0 (f16 for the writers that go straight to GGUF), written once to the temp dir.
 * `quant` (110M only): instead, each family written in f16 and quantized to that type by
 * llama.cpp's quantizer (`quantized`), e.g. q4_k_m with llama.cpp's per-tensor mix.
 */
export async function familyModels(size: 'tiny' | '110m', only: readonly string[] | null, quant?: string): Promise<Array<BenchModel & { family: string; size: string }>> {
  const out: Array<BenchModel & { family: string; size: string }> = [];
  const dir = join(tmpdir(), 'tensorloom-bench');
  mkdirSync(dir, { recursive: true });
  const { makeRandomModel } = await import('../scripts/make-random-model.js');
  if (quant && size !== '110m') throw new Error('familyModels: a quantized type is for the 110M size');
  const type = size === 'tiny' ? 'f32' : quant ? 'f16' : 'q8_0';
  for (const f of FAMILIES) {
    if (only && !only.includes(f.name)) continue;
    // the writers that go straight to GGUF (hybrids, gemma4) take f32 / f16 only
    const t = type === 'q8_0' && F16_ONLY.has(f.name) ? 'f16' : type;
    const p = join(dir, `${f.name}-${size}-${t}.gguf`);
    if (!existsSync(p)) {
      console.log(`writing ${p} (scripts/make-random-model.ts, seed 1) …`);
      makeRandomModel({ ...f.options, size, type: t, seed: 1, gguf: p });
    }
    if (quant) {
      const q = await quantized(p, quant);
      out.push({ name: `110M ${f.name} ${quant}${q.by === 'llama.cpp' ? '' : ` (${q.by})`}`, path: q.path, family: f.name, size });
      continue;
    }
    out.push({ name: `${size === 'tiny' ? 'tiny' : '110M'} ${f.name} ${t}`, path: p, family: f.name, size });
  }
  return out;
}

/**
 * One engine's result over the rounds of a case: each numeric field the median of the rounds that
 * ran (the other fields the first's); the first failure's text when no round ran.
 */
function medianResult<T extends object>(turns: readonly (T | string)[]): T | string {
  const ok = turns.filter((x): x is T => typeof x !== 'string');
  if (ok.length === 0) return turns[0] as string;
  const out: Record<string, unknown> = { ...(ok[0] as Record<string, unknown>) };
  for (const [key, value] of Object.entries(ok[0]!)) {
    if (typeof value === 'number') out[key] = median(ok.map((x) => (x as Record<string, unknown>)[key] as number));
  }
  return out as T;
}

export async function run(flags: string[]): Promise<void> {
  const opt = (name: string, def: string): string => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? def;
  const quick = flags.includes('--quick');
  // our KV cache type (default f32; llama.cpp's peers keep theirs in f16): passed to each case's child
  const kvCache = opt('kv-cache', '');
  if (kvCache && kvCache !== 'f16' && kvCache !== 'f32') throw new Error(`e2e: --kv-cache=${kvCache}: expected f16 or f32`);
  if (kvCache) process.env.TL_BENCH_KV_CACHE = kvCache;
  const threads = opt('threads', '1,2').split(',').map(Number);
  const reps = Number(opt('reps', quick ? '2' : '3'));
  const rounds = Number(opt('rounds', '1'));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`e2e: --rounds=${opt('rounds', '')}: expected a whole number ≥ 1`);
  const typeOrder = flags.some((f) => f.startsWith('--types=')) ? opt('types', '').split(',') : null;
  const typeRank = (name: string): number => (typeOrder ? typeOrder.findIndex((t) => name.split(/[\s(]/).includes(t)) : 0);
  const familyFilter = opt('families', '');
  const models = (await benchModels(opt('models', quick ? 'stories' : 'stories,110m,110m-quant,1b').split(','), familyFilter ? familyFilter.split(',') : null, typeOrder))
    .filter((m) => typeRank(m.name) >= 0)
    .sort((a, b) => typeRank(a.name) - typeRank(b.name));
  const havePeer = peersPath() !== null;
  const source = oursSource().label;
  // the kernels' ISA: TENSORLOOM_ISA=avx2 runs an AVX-512 machine's AVX2 path (against a llama.cpp
  // built for AVX2 only: TL_LLAMA_ISA=avx2 bench/peers/build-llama.sh)
  console.log(`tensorloom from ${source}, kernels: ${machine().backend.isa}`);
  if (!havePeer) console.log('node-llama-cpp is not installed (npm ci --prefix bench/peers --omit=optional): nlc columns empty');
  const llamaBench = llamaNativeTool('llama-bench');
  const lbMissing = 'missing' in llamaBench ? 'not built' : null;
  console.log('missing' in llamaBench ? `llama-bench columns: ${llamaBench.missing}` : `llama-bench: ${llamaBench.path}`);
  const bw = readBandwidth(threads);
  console.log(`read bandwidth (bench/peers/membw.c): ${[...bw].map(([t, v]) => `${v.toFixed(1)} GB/s at ${t} thread(s)`).join(', ') || 'not measured'}`);
  console.log('columns: nlc = node-llama-cpp, lb = llama-bench (native llama.cpp), ×nlc / ×lb = ours ÷ theirs, % BW = our decode ÷ (read GB/s ÷ weight GB read per token)');
  const rows: Row[] = [];
  const raw: Record<string, unknown>[] = [];
  const meta = { promptTokens: PROMPT, generatedTokens: GENERATE, reps, rounds, kvCache: kvCache || 'f32', tensorloomSource: source, bandwidthGBs: Object.fromEntries(bw), llamaBench: 'missing' in llamaBench ? llamaBench.missing : llamaBench.path };
  /** decode tok/s of plain llama per `${size}/${threads}`, for the families' comparison column. */
  const llamaDecode = new Map<string, number>();
  for (const m of models) {
    let bytesPerToken: number | null = null;
    try {
      bytesPerToken = weightBytesPerToken(readGGUF(m.path));
    } catch (err) {
      console.log(`${m.name}: weight bytes per token unknown (${(err as Error).message})`);
    }
    for (const t of threads) {
      // the bandwidth again, right before this case (the median of 3 measurements): on a shared host
      // it drifts over a run, by up to ±30 % from one minute to the next
      const turns: { bw: number | undefined; ours: CaseResult | string; peer: CaseResult | string; lb: LlamaBenchResult | string }[] = [];
      for (let r = 0; r < rounds; r++) {
        const bwTurn = bw.size ? median([0, 1, 2].map(() => readBandwidth([t], 256).get(t) ?? 0)) || undefined : undefined;
        const oursTurn = await runCase('ours', m.path, t, reps);
        const peerTurn = havePeer ? await runCase('peer', m.path, t, reps) : 'not installed';
        const lbTurn = lbMissing ?? (await runLlamaBench(m.path, { prompt: PROMPT, generate: GENERATE, threads: t, reps, decodeDepth: PROMPT }));
        turns.push({ bw: bwTurn, ours: oursTurn, peer: peerTurn, lb: lbTurn });
        if (rounds > 1) for (const [who, x] of [['tensorloom', oursTurn], ['node-llama-cpp', peerTurn], ['llama-bench', lbTurn]] as const)
          if (typeof x === 'string' && x !== 'not installed' && x !== lbMissing) console.log(`${who} ${m.name} ×${t}, round ${r + 1}: ${x}`);
      }
      const bws = turns.map((x) => x.bw).filter((x): x is number => x !== undefined);
      const bwNow = bws.length ? median(bws) : undefined;
      const ours = medianResult(turns.map((x) => x.ours));
      const peer = medianResult(turns.map((x) => x.peer));
      const lb = medianResult(turns.map((x) => x.lb));
      const o = typeof ours === 'string' ? null : ours;
      const p = typeof peer === 'string' ? null : peer;
      const l = typeof lb === 'string' ? null : lb;
      if (typeof ours === 'string') console.log(`tensorloom ${m.name} ×${t}: ${ours}`);
      if (typeof peer === 'string' && havePeer) console.log(`node-llama-cpp ${m.name} ×${t}: ${peer}`);
      if (typeof lb === 'string' && !lbMissing) console.log(`llama-bench ${m.name} ×${t}: ${lb}`);
      const lbCell = (v: number | undefined): number | string | null => (l ? v ?? null : lbMissing ?? 'failed');
      const ratio = (a: number | undefined, b: number | undefined): number | null => (a !== undefined && b !== undefined ? a / b : null);
      const bwCase = bwNow ?? bw.get(t);
      const boundTps = bytesPerToken && bwCase ? (bwCase * 1e9) / bytesPerToken : null;
      const key = `${m.size}/${t}`;
      if (m.family === 'llama' && o) llamaDecode.set(key, o.decodeTps);
      const base = m.family ? llamaDecode.get(key) : undefined;
      rows.push({
        model: m.name,
        thr: t,
        layers: o?.layers ?? null,
        prefill: o?.prefillTps ?? null,
        'nlc pp': p?.prefillTps ?? null,
        'lb pp': lbCell(l?.prefillTps),
        'pp ×nlc': ratio(o?.prefillTps, p?.prefillTps),
        'pp ×lb': ratio(o?.prefillTps, l?.prefillTps),
        decode: o?.decodeTps ?? null,
        'nlc tg': p?.decodeTps ?? null,
        'lb tg': lbCell(l?.decodeTps),
        'tg ×nlc': ratio(o?.decodeTps, p?.decodeTps),
        'tg ×lb': ratio(o?.decodeTps, l?.decodeTps),
        // decode time per token relative to llama of the same size and threads (≤ 1: not slower)
        'ms/tok ÷ llama': o && base ? base / o.decodeTps : null,
        'BW GB/s': bwCase ?? null,
        'BW bound tg': boundTps,
        '% BW': o && boundTps ? (100 * o.decodeTps) / boundTps : null,
        'lb % BW': l && boundTps ? (100 * l.decodeTps) / boundTps : null,
        'load ms': o?.loadMs ?? null,
        'nlc load ms': p?.loadMs ?? null,
        'RSS MB': o?.peakRssMB ?? null,
        'nlc RSS MB': p?.peakRssMB ?? null,
      });
      raw.push({ model: m.name, path: m.path, threads: t, weightBytesPerToken: bytesPerToken, tensorloom: ours, nodeLlamaCpp: peer, llamaBench: lb, ...(rounds > 1 ? { rounds: turns } : {}) });
      console.log(JSON.stringify(rows[rows.length - 1]));
      // written after every case, so an interrupted run keeps what it measured
      writeResults('e2e', { ...meta, complete: false, rows, raw });
    }
  }
  printTable(`e2e: ${PROMPT}-token prompt, ${GENERATE} generated, greedy (medians of ${reps}; llama-bench: means${rounds > 1 ? `; then medians of ${rounds} rounds` : ''})`, rows);
  writeResults('e2e', { ...meta, complete: true, rows, raw });
}
