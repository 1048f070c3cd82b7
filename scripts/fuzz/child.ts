/**
 * The fuzz child: prepares one target, then runs the inputs the driver names, one at a time, and
 * answers each with its outcome. The driver's watchdog kills it on a hang; a crash ends it.
 */
import { inputRng } from './mutate.js';
import { isCleanError, type FuzzTarget } from './target.js';
import { TARGETS } from './targets/index.js';

type FromDriver = { type: 'init'; target: string; seed: number; memoryMb: number } | { type: 'run'; index: number };

let target: FuzzTarget<unknown> | null = null;
let ctx: unknown;
let seed = 1;
let memoryMb = 512;
let baseKb = 0;
const send = (m: unknown): void => void process.send!(m);
const short = (s: string): string => (s.length > 400 ? s.slice(0, 400) + '…' : s);

// An error escaping asynchronously (a callback, a worker) would end a user's process: report it as such.
process.on('uncaughtException', (err) => {
  send({ type: 'uncaught', message: short(String(err?.stack ?? err)) });
  process.exit(70);
});
process.on('unhandledRejection', (err) => {
  send({ type: 'uncaught', message: short(`unhandled rejection: ${String((err as Error)?.stack ?? err)}`) });
  process.exit(70);
});

process.on('message', (m: FromDriver) => {
  void handle(m);
});

async function handle(m: FromDriver): Promise<void> {
  if (m.type === 'init') {
    target = (TARGETS.find((t) => t.name === m.target) as FuzzTarget<unknown> | undefined) ?? null;
    if (!target) return send({ type: 'setup-failed', message: `no target ${m.target}` });
    seed = m.seed;
    memoryMb = m.memoryMb;
    try {
      ctx = await target.setup();
    } catch (err) {
      return send({ type: 'setup-failed', message: short(String((err as Error)?.stack ?? err)) });
    }
    baseKb = process.resourceUsage().maxRSS;
    return send({ type: 'ready' });
  }
  const t0 = performance.now();
  let outcome: 'loaded' | 'clean' | 'unclean' | 'memory' = 'loaded';
  let message = '';
  try {
    await target!.run(ctx, inputRng(seed, target!.name, m.index));
  } catch (err) {
    outcome = isCleanError(err) ? 'clean' : 'unclean';
    message = short(outcome === 'clean' ? String((err as Error).message) : String((err as Error)?.stack ?? err));
  }
  const ms = performance.now() - t0;
  const grownMb = (process.resourceUsage().maxRSS - baseKb) / 1024;
  if (grownMb > memoryMb) {
    outcome = 'memory';
    message = `peak RSS grew by ${grownMb.toFixed(0)} MB (limit ${memoryMb} MB)${message ? `; ${message}` : ''}`;
  }
  send({ type: 'result', index: m.index, outcome, message, ms, peakMb: grownMb });
}

process.on('disconnect', () => {
  void Promise.resolve(target?.teardown?.(ctx)).finally(() => process.exit(0));
});
