/**
 * npm run fuzz — mutation fuzzing of tensorloom's parsers, kernel bindings and HTTP server.
 *
 *   npm run fuzz -- [--targets gguf,kernels,…] [--inputs N | --seconds N] [--seed S]
 *                   [--timeout-ms 10000] [--memory-mb 512] [--only INDEX] [--list]
 *
 * Each target runs in a child process (./child.ts) that executes one input at a time under a
 * watchdog: no answer within --timeout-ms is a hang (the child is killed and replaced), a child
 * that dies is a crash (a native fault, an abort, an error escaping asynchronously), a peak RSS
 * more than --memory-mb above the child's starting point is a memory blow-up. Every input is a
 * pure function of (seed, target, index): `--targets T --only INDEX` replays one input in this
 * process with its full stack. Exit status 1 when any input crashed, hung, blew up memory or was
 * refused with an error that is not the library's own ("unclean").
 *
 * --inputs N runs N inputs per target; --seconds N splits N seconds of fuzzing evenly over the
 * targets (each target's setup, a few seconds, comes on top); every target runs at least one input.
 * Under scripts/sanitize.sh --run, the children load the ASan + UBSan addon (the environment
 * carries LD_PRELOAD and TENSORLOOM_ADDON to them).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { inputRng } from './mutate.js';
import { isCleanError, type FuzzTarget, type Outcome } from './target.js';
import { TARGETS } from './targets/index.js';

const { values } = parseArgs({
  options: {
    targets: { type: 'string' },
    inputs: { type: 'string' },
    seconds: { type: 'string' },
    seed: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '10000' },
    'memory-mb': { type: 'string', default: '512' },
    only: { type: 'string' },
    list: { type: 'boolean', default: false },
  },
});

const seed = Number(values.seed);
const timeoutMs = Number(values['timeout-ms']);
const memoryMb = Number(values['memory-mb']);
const wanted = values.targets ? values.targets.split(',') : TARGETS.map((t) => t.name);
for (const w of wanted) if (!TARGETS.some((t) => t.name === w)) fail(`unknown target '${w}'; targets: ${TARGETS.map((t) => t.name).join(', ')}`);
if (values.list) {
  for (const t of TARGETS) console.log(`${t.name.padEnd(15)} ${t.about}${t.unavailable() ? `  [unavailable: ${t.unavailable()}]` : ''}`);
  process.exit(0);
}

function fail(msg: string): never {
  console.error(`fuzz: ${msg}`);
  process.exit(2);
}

interface Tally {
  target: string;
  inputs: number;
  counts: Record<Outcome, number>;
  examples: { outcome: Outcome; index: number; message: string }[];
  maxMs: number;
  slowIndex: number;
  ms: number[];
}

async function replay(t: FuzzTarget<unknown>, index: number): Promise<void> {
  const ctx = await t.setup();
  try {
    await t.run(ctx, inputRng(seed, t.name, index));
    console.log(`${t.name} #${index}: loaded`);
  } catch (err) {
    console.log(`${t.name} #${index}: ${isCleanError(err) ? 'clean error' : 'UNCLEAN error'}`);
    console.log((err as Error)?.stack ?? err);
  } finally {
    await t.teardown?.(ctx);
  }
}

/** A child running one target, restartable after a hang, crash or memory blow-up. */
class Child {
  private proc: ChildProcess | null = null;
  private stderr = '';
  private waiting: ((m: { type: string; [k: string]: unknown }) => void) | null = null;
  private exited: ((why: string) => void) | null = null;

  constructor(private readonly target: string) {}

  async start(): Promise<void> {
    this.stderr = '';
    const here = fileURLToPath(new URL('./child.ts', import.meta.url));
    const proc = fork(here, [], { execArgv: ['--import', 'tsx', '--max-old-space-size=2048'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.proc = proc;
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    proc.on('message', (m: { type: string }) => this.waiting?.(m as { type: string; [k: string]: unknown }));
    proc.on('exit', (code, signal) => this.exited?.(`exit code ${code}${signal ? `, signal ${signal}` : ''}`));
    proc.send({ type: 'init', target: this.target, seed, memoryMb });
    const m = await this.next(120_000);
    if (m.type !== 'ready') throw new Error(`${this.target}: the child could not set up: ${String(m.message ?? m.type)}\n${this.stderr}`);
  }

  /** The child's next message, or a synthetic 'exit' / 'timeout'. */
  next(ms: number): Promise<{ type: string; [k: string]: unknown }> {
    return new Promise((resolve) => {
      let uncaught = '';
      const timer = setTimeout(() => done({ type: 'timeout' }), ms);
      const done = (m: { type: string; [k: string]: unknown }): void => {
        if (m.type === 'uncaught') {
          uncaught = String(m.message);
          return; // the exit follows
        }
        clearTimeout(timer);
        this.waiting = null;
        this.exited = null;
        resolve(m);
      };
      this.waiting = done;
      this.exited = (why) => done({ type: 'exit', message: `${why}${uncaught ? `: ${uncaught}` : ''}\n${this.stderr.trim().split('\n').slice(-12).join('\n')}` });
    });
  }

  run(index: number): void {
    this.proc!.send({ type: 'run', index });
  }

  kill(): void {
    this.proc?.removeAllListeners();
    this.proc?.kill('SIGKILL');
    this.proc = null;
  }

  stop(): void {
    this.proc?.disconnect();
    this.proc = null;
  }
}

async function fuzzTarget(t: FuzzTarget<unknown>, budget: { inputs: number; seconds: number }): Promise<Tally> {
  const tally: Tally = { target: t.name, inputs: 0, counts: { loaded: 0, clean: 0, unclean: 0, hang: 0, crash: 0, memory: 0 }, examples: [], maxMs: 0, slowIndex: -1, ms: [] };
  let child = new Child(t.name);
  await child.start();
  // The time budget starts once the target is set up (under ASan, setup alone can take 30 s).
  const deadline = Date.now() + budget.seconds * 1000;
  let lastReport = Date.now();
  for (let index = 0; index < budget.inputs && (index === 0 || Date.now() < deadline); index++) {
    child.run(index);
    const m = await child.next(timeoutMs);
    let outcome: Outcome;
    let message = '';
    if (m.type === 'result') {
      outcome = m.outcome as Outcome;
      message = String(m.message ?? '');
      const ms = Number(m.ms);
      tally.ms.push(ms);
      if (ms > tally.maxMs) {
        tally.maxMs = ms;
        tally.slowIndex = index;
      }
    } else {
      outcome = m.type === 'timeout' ? 'hang' : 'crash';
      message = m.type === 'timeout' ? `no answer within ${timeoutMs} ms` : String(m.message);
    }
    tally.inputs++;
    tally.counts[outcome]++;
    if (outcome !== 'loaded' && outcome !== 'clean') {
      console.error(`fuzz: ${t.name} #${index} ${outcome.toUpperCase()}: ${message.split('\n')[0]}`); // as it happens, for long runs
      if (tally.examples.filter((e) => e.outcome === outcome).length < 5) tally.examples.push({ outcome, index, message });
    }
    if (outcome === 'hang' || outcome === 'crash' || outcome === 'memory') {
      child.kill();
      child = new Child(t.name);
      await child.start();
    }
    if (Date.now() - lastReport > 30_000) {
      lastReport = Date.now();
      console.error(`fuzz: ${t.name}: ${tally.inputs} inputs ${JSON.stringify(tally.counts)}`);
    }
  }
  child.stop();
  return tally;
}

async function main(): Promise<void> {
  const targets = TARGETS.filter((t) => wanted.includes(t.name)) as FuzzTarget<unknown>[];
  if (values.only !== undefined) {
    if (targets.length !== 1) fail('--only needs exactly one --targets name');
    return replay(targets[0]!, Number(values.only));
  }
  const runnable = targets.filter((t) => {
    const why = t.unavailable();
    if (why) console.log(`fuzz: skipping ${t.name}: ${why}`);
    return !why;
  });
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  const inputs = values.inputs === undefined ? (seconds === undefined ? 1000 : Infinity) : Number(values.inputs);
  console.log(`fuzz: seed ${seed}, ${inputs === Infinity ? '' : `${inputs} inputs per target, `}${seconds === undefined ? '' : `${seconds} s in all, `}watchdog ${timeoutMs} ms, memory limit ${memoryMb} MB`);
  const tallies: Tally[] = [];
  const t0 = Date.now();
  for (const t of runnable) {
    // --seconds is fuzzing time, split evenly; each target's setup comes on top.
    tallies.push(await fuzzTarget(t, { inputs, seconds: seconds === undefined ? Infinity : seconds / runnable.length }));
  }
  console.log(`\n${'target'.padEnd(15)} ${'inputs'.padStart(8)} ${'loaded'.padStart(8)} ${'clean'.padStart(8)} ${'unclean'.padStart(8)} ${'hang'.padStart(5)} ${'crash'.padStart(6)} ${'memory'.padStart(7)} ${'p99 ms'.padStart(8)} ${'max ms'.padStart(8)}`);
  let bad = 0;
  for (const r of tallies) {
    const sorted = r.ms.sort((a, b) => a - b);
    const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : 0;
    const c = r.counts;
    console.log(`${r.target.padEnd(15)} ${String(r.inputs).padStart(8)} ${String(c.loaded).padStart(8)} ${String(c.clean).padStart(8)} ${String(c.unclean).padStart(8)} ${String(c.hang).padStart(5)} ${String(c.crash).padStart(6)} ${String(c.memory).padStart(7)} ${p99.toFixed(1).padStart(8)} ${r.maxMs.toFixed(1).padStart(8)}`);
    bad += c.unclean + c.hang + c.crash + c.memory;
  }
  for (const r of tallies) {
    for (const e of r.examples) console.log(`\n${r.target} #${e.index} ${e.outcome.toUpperCase()} (replay: npm run fuzz -- --seed ${seed} --targets ${r.target} --only ${e.index})\n  ${e.message.replace(/\n/g, '\n  ')}`);
  }
  console.log(`\nfuzz: ${tallies.reduce((s, r) => s + r.inputs, 0)} inputs in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${bad === 0 ? 'no crash, hang, memory blow-up or unclean error' : `${bad} FAILED`}`);
  process.exitCode = bad === 0 ? 0 : 1;
}

await main();
