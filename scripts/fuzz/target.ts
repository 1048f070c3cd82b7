/** What a fuzz target is: prepared once per child process, then run once per input. */
import type { FuzzRng } from './mutate.js';

export interface FuzzTarget<Ctx = unknown> {
  readonly name: string;
  /** What it exercises, for --list. */
  readonly about: string;
  /** Why it cannot run here (a missing shared file), or null. Checked by the driver. */
  unavailable(): string | null;
  /** Builds the seeds (in the child). */
  setup(): Promise<Ctx> | Ctx;
  /** Runs one input drawn from `rng`. Resolves when the input was accepted; throws its error when refused. */
  run(ctx: Ctx, rng: FuzzRng): Promise<void> | void;
  /** Frees what setup made. */
  teardown?(ctx: Ctx): Promise<void> | void;
}

/** Outcomes the driver counts. */
export type Outcome = 'loaded' | 'clean' | 'unclean' | 'hang' | 'crash' | 'memory';

/**
 * A refusal is clean when it is one of the library's own errors: a FormatError or TokenizerError,
 * a request error, or any error whose message says it is tensorloom's. Anything else ("Cannot read
 * properties of undefined", "Invalid array length", a stack overflow) escaped a check.
 */
export function isCleanError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (['FormatError', 'TokenizerError', 'RequestError', 'AbortError', 'TemplateError'].includes(err.name)) return true;
  return /^tensorloom: /.test(err.message);
}
