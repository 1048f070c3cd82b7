/**
 * Creating a worker thread without tripping over the parent's command-line flags.
 *
 * A Worker inherits `process.execArgv`, but Node refuses a worker whose execArgv holds
 * process-wide flags (`--expose-gc`, `--max-old-space-size`, `--input-type`, …) with
 * ERR_WORKER_INVALID_EXEC_ARGV. Which flags are refused depends on the Node version, so instead of
 * a list we ask Node: on that error, drop the flags its message names and try again. The flags
 * that remain (loaders, conditions) keep working in the worker; the dropped ones still apply to
 * the process as a whole (a heap limit, gc exposure).
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Limits for the threads that hold a model. V8 lets an isolate's young generation grow to 48 MB
 * (3 × 16 MB semi-spaces); a model thread allocates in bursts at load and little per token, so
 * the young generation only holds garbage that a smaller one collects as cheaply, and all of it
 * stays resident (8 MB: 7.75 MiB resident with 1.6 MiB in use after a generation). 8 MB took 9 MB
 * (110M Llama) and 14 MB (1B, 128k vocabulary) off the peak RSS against the default, 2 MB another
 * 6–7 MiB (bench/e2e-child.mjs: 110M q4_0 180 → 174 MiB, 1B q4_k_m 1023 → 1016), with load time,
 * prefill and decode tok/s unchanged within noise (3 alternating runs each).
 */
export const MODEL_WORKER_LIMITS: NonNullable<WorkerOptions['resourceLimits']> = { maxYoungGenerationSizeMb: 2 };

/**
 * The server's model worker batches up to 16 streams a step and makes garbage for each: with 2 MB
 * it served 13–22 % fewer tokens per CPU-second than with 8 (bench/run.ts serve, 110M q8_0 / q4_k_m,
 * 1 thread, against llama-server in the same run), so it keeps 8.
 */
export const SERVER_WORKER_LIMITS: NonNullable<WorkerOptions['resourceLimits']> = { maxYoungGenerationSizeMb: 8 };

/** `new Worker(file, options)`, retried without the inherited flags Node rejects for workers. */
export function createWorker(file: string | URL, options: WorkerOptions = {}): Worker {
  let execArgv = options.execArgv ?? process.execArgv.filter((a) => !a.startsWith('--input-type'));
  for (let attempt = 0; ; attempt++) {
    try {
      return new Worker(file, { ...options, execArgv });
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || attempt > 4 || execArgv.length === 0) throw err;
      execArgv = withoutRejected(execArgv, e.message ?? '');
    }
  }
}

/** execArgv minus the flags an ERR_WORKER_INVALID_EXEC_ARGV message names (all of them if it names none we can match). */
export function withoutRejected(execArgv: readonly string[], message: string): string[] {
  const listed = /flags?:\s*(.*)$/s.exec(message)?.[1] ?? '';
  const names = new Set(listed.split(/[\s,]+/).filter((f) => f.startsWith('-')).map(flagName));
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const a = execArgv[i]!;
    if (!names.has(flagName(a))) {
      kept.push(a);
      continue;
    }
    // `--flag value` form: the value goes with its flag.
    if (!a.includes('=') && i + 1 < execArgv.length && !execArgv[i + 1]!.startsWith('-')) i++;
  }
  return kept.length === execArgv.length ? [] : kept;
}

function flagName(flag: string): string {
  return flag.split('=')[0]!.replace(/_/g, '-');
}
