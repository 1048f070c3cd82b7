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
