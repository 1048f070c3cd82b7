/**
 * The one place generation options are checked. Every front end runs the same table:
 *
 * - the in-process API (`model.generate` / `model.stream`, `Scheduler.generate`),
 * - the worker protocol (the engine re-checks what arrives by message before it runs),
 * - the HTTP server (`optionsFromHttp` maps OpenAI's snake_case fields onto the same entries),
 *
 * so the three cannot drift. To add an option: add it to the option types (ts/generate/types.ts or
 * sampler.ts) and one entry here; the `satisfies` clause below fails to compile until both agree.
 * Unknown keys are refused with the list of known ones (a typo such as `temprature` would
 * otherwise be ignored in silence).
 */
import { MAX_TOP_LOGPROBS } from './logprobs.js';
import type { GenerateOptions } from './types.js';

/** Who is asking: decides which entries apply (hooks cannot cross a thread; HTTP has its own names). */
export type OptionSurface =
  /** model.generate / model.stream: everything, hooks included. */
  | 'api'
  /** What the engine receives (inline or from the worker): no hooks. */
  | 'engine'
  /** The batching Scheduler's generate / stream / submit. */
  | 'scheduler';

export interface OptionSpec {
  /** A valid value, for the error message: "a number ≥ 0". */
  readonly expected: string;
  /** The value's kind: false → TypeError. */
  readonly type: (v: unknown) => boolean;
  /** Its range, tested after `type`: false → RangeError. */
  readonly range?: (v: never) => boolean;
  /** The OpenAI-style request field(s) carrying it over HTTP (first one wins), or null: not over HTTP. */
  readonly http: readonly string[] | null;
  /** Surfaces that do not take it (default: every surface takes it). */
  readonly not?: readonly OptionSurface[];
  /** null is a valid value (means "the default"). */
  readonly nullable?: true;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && !Number.isNaN(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const finite = (v: number): boolean => Number.isFinite(v);
const INT32_MAX = 2 ** 31 - 1;
export const MAX_STOP_STRINGS = 16;
export const MAX_STOP_LENGTH = 1024;

/** The table. Keys are the API names (camelCase). */
export const GENERATE_OPTIONS = {
  temperature: { expected: 'a finite number ≥ 0 (0 = greedy)', type: isNumber, range: (v: number) => finite(v) && v >= 0, http: ['temperature'] },
  topK: { expected: `an integer in [0, ${INT32_MAX}] (0 = off)`, type: isNumber, range: (v: number) => Number.isInteger(v) && v >= 0 && v <= INT32_MAX, http: ['top_k'] },
  topP: { expected: 'a number in (0, 1]', type: isNumber, range: (v: number) => v > 0 && v <= 1, http: ['top_p'] },
  minP: { expected: 'a number in [0, 1]', type: isNumber, range: (v: number) => v >= 0 && v <= 1, http: ['min_p'] },
  repetitionPenalty: { expected: 'a finite number > 0 (1 = off)', type: isNumber, range: (v: number) => finite(v) && v > 0, http: ['repetition_penalty', 'repeat_penalty'] },
  // OpenAI's range for both penalties
  presencePenalty: { expected: 'a number in [-2, 2]', type: isNumber, range: (v: number) => v >= -2 && v <= 2, http: ['presence_penalty'] },
  frequencyPenalty: { expected: 'a number in [-2, 2]', type: isNumber, range: (v: number) => v >= -2 && v <= 2, http: ['frequency_penalty'] },
  penaltyLastN: { expected: `an integer in [-1, ${INT32_MAX}] (-1 = whole context)`, type: isNumber, range: (v: number) => Number.isInteger(v) && v >= -1 && v <= INT32_MAX, http: null, not: ['scheduler'] },
  seed: { expected: `an integer in [0, 2^53 − 1]`, type: isNumber, range: (v: number) => Number.isSafeInteger(v) && v >= 0, http: ['seed'] },
  maxTokens: { expected: `an integer in [0, ${INT32_MAX}]`, type: isNumber, range: (v: number) => Number.isInteger(v) && v >= 0 && v <= INT32_MAX, http: null, nullable: true },
  stop: {
    expected: `a string or an array of at most ${MAX_STOP_STRINGS} strings, each non-empty and at most ${MAX_STOP_LENGTH} characters`,
    type: (v) => typeof v === 'string' || (Array.isArray(v) && v.every((s) => typeof s === 'string')),
    range: (v: string | string[]) => {
      const list = typeof v === 'string' ? [v] : v;
      return list.length <= MAX_STOP_STRINGS && list.every((s) => s.length > 0 && s.length <= MAX_STOP_LENGTH);
    },
    http: ['stop'],
  },
  ignoreEos: { expected: 'true or false', type: isBool, http: ['ignore_eos'] },
  addBos: { expected: 'true or false', type: isBool, http: null },
  signal: { expected: 'an AbortSignal', type: (v) => v instanceof AbortSignal, http: null, not: ['engine'] },
  onText: { expected: 'a function', type: (v) => typeof v === 'function', http: null, not: ['engine'] },
  // Structured output (ts/grammar); the server maps response_format / grammar onto these itself.
  grammar: { expected: 'a GBNF grammar string', type: (v) => typeof v === 'string', http: null },
  jsonSchema: { expected: 'a JSON Schema (an object or a boolean)', type: (v) => isBool(v) || (typeof v === 'object' && v !== null && !Array.isArray(v)), http: null },
  jsonObject: { expected: 'true or false', type: isBool, http: null },
  // Beam search (ts/generate/beam-search.ts); not in the batching server. See beamConflict below.
  numBeams: { expected: 'an integer in [1, 256]', type: isNumber, range: (v: number) => Number.isInteger(v) && v >= 1 && v <= 256, http: null, not: ['scheduler'] },
  lengthPenalty: { expected: 'a finite number', type: isNumber, range: finite, http: null, not: ['scheduler'] },
  earlyStopping: { expected: "true, false or 'never'", type: (v) => isBool(v) || v === 'never', http: null, not: ['scheduler'] },
  // Per-token log-probabilities (ts/generate/logprobs.ts); the server maps OpenAI's logprobs / top_logprobs itself.
  logprobs: { expected: 'true or false', type: isBool, http: null },
  topLogprobs: { expected: `an integer in [0, ${MAX_TOP_LOGPROBS}]`, type: isNumber, range: (v: number) => Number.isInteger(v) && v >= 0 && v <= MAX_TOP_LOGPROBS, http: null },
  // The batching server's OpenAI logit_bias (ranges checked by the Scheduler; HTTP maps logit_bias itself).
  logitBias: { expected: 'an object mapping token ids to numbers in [-100, 100]', type: (v) => typeof v === 'object' && v !== null && !Array.isArray(v), http: null, not: ['api', 'engine'] },
  // The batching server's OpenAI n: several choices from one prompt (its KV prefix computed once).
  n: { expected: 'an integer in [1, 128]', type: isNumber, range: (v: number) => Number.isInteger(v) && v >= 1 && v <= 128, http: null, not: ['api', 'engine'] },
} satisfies { readonly [K in keyof Required<GenerateOptions>]: OptionSpec } & { readonly logitBias: OptionSpec; readonly n: OptionSpec };

export type OptionName = keyof typeof GENERATE_OPTIONS;
const SPECS: Readonly<Record<string, OptionSpec>> = GENERATE_OPTIONS;

/** Where a check failed: which option (as the caller spelled it) and why. */
export interface OptionProblem {
  /** The API name (camelCase), or the unknown key itself. */
  option: string;
  kind: 'type' | 'range' | 'unknown';
  message: string;
}

/** Option names a surface accepts. */
export function knownOptions(surface: OptionSurface): string[] {
  return Object.keys(SPECS).filter((k) => !SPECS[k]!.not?.includes(surface));
}

/** What one value is, for error messages ("the string \"x\"", "number 1e12", "an object"). */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty array' : 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${typeof v} ${String(v)}`;
  if (typeof v === 'function') return 'a function';
  return typeof v === 'object' ? `an object (${Object.prototype.toString.call(v).slice(8, -1)})` : typeof v;
}

/** Checks one value against its entry; null when it is fine. `label` is the name used in the message. */
export function checkOption(name: OptionName, value: unknown, label: string = name): OptionProblem | null {
  const spec: OptionSpec = SPECS[name]!;
  if (value === undefined || (value === null && spec.nullable)) return null;
  if (!spec.type(value)) return { option: name, kind: 'type', message: `${label} must be ${spec.expected}; got ${describeValue(value)}` };
  if (spec.range && !(spec.range as (v: unknown) => boolean)(value)) {
    return { option: name, kind: 'range', message: `${label} must be ${spec.expected}; got ${describeValue(value)}` };
  }
  return null;
}

/** All problems of an options object for a surface (unknown keys first). */
export function optionProblems(options: unknown, surface: OptionSurface): OptionProblem[] {
  if (options === undefined) return [];
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [{ option: 'options', kind: 'type', message: `options must be an object; got ${describeValue(options)}` }];
  }
  const known = knownOptions(surface);
  const problems: OptionProblem[] = [];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      problems.push({ option: key, kind: 'unknown', message: `unknown option '${key}'; known options: ${known.join(', ')}` });
    }
  }
  for (const key of known) {
    const p = checkOption(key as OptionName, (options as Record<string, unknown>)[key]);
    if (p) problems.push(p);
  }
  return problems;
}

/** Options beam search cannot honour: it is a deterministic search over whole sequences. */
const BEAM_CONFLICTS = [
  ['topK', 'sampling'], ['topP', 'sampling'], ['minP', 'sampling'], ['seed', 'sampling'],
  ['repetitionPenalty', 'penalties'], ['presencePenalty', 'penalties'], ['frequencyPenalty', 'penalties'], ['penaltyLastN', 'penalties'],
  ['stop', 'stop strings'], ['grammar', 'grammars'], ['jsonSchema', 'grammars'], ['jsonObject', 'grammars'], ['onText', 'streaming'],
] as const;

/** Why these (individually valid) options cannot go together with numBeams > 1, or null. */
export function beamConflict(options: GenerateOptions): string | null {
  if ((options.numBeams ?? 1) <= 1) return null;
  const bad = (options.temperature ?? 0) > 0 ? 'temperature' : BEAM_CONFLICTS.find(([k]) => options[k] !== undefined)?.[0];
  if (bad === undefined) return null;
  const what = bad === 'temperature' ? 'sampling' : BEAM_CONFLICTS.find(([k]) => k === bad)![1];
  return `numBeams > 1 (beam search) takes no ${what}: remove ${bad}${bad === 'temperature' ? ' (or set it to 0)' : ''}, or use numBeams 1`;
}

/**
 * Throws (TypeError for a wrong kind or an unknown key, RangeError for a value out of range or
 * options that cannot go together) on the first problem, naming the option; returns the options,
 * typed, when they are fine.
 */
export function validateGenerateOptions<T extends object = GenerateOptions>(options: unknown, surface: OptionSurface): T {
  const [p] = optionProblems(options, surface);
  if (p) {
    const Ctor = p.kind === 'range' ? RangeError : TypeError;
    throw new Ctor(`tensorloom: ${p.message}`);
  }
  const conflict = beamConflict((options ?? {}) as GenerateOptions);
  if (conflict) throw new RangeError(`tensorloom: ${conflict}`);
  return (options ?? {}) as T;
}

/** A bad HTTP field: the server answers 400 naming `param`. */
export class HttpOptionError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/** The HTTP request fields the table covers (for the server's list of known fields). */
export function httpOptionFields(): string[] {
  return Object.values(SPECS).flatMap((s) => (s.http ? [...s.http] : []));
}

/**
 * Reads the table's options from an OpenAI-style body (snake_case; null = absent), checked with
 * the same entries as the API. Throws HttpOptionError naming the field.
 */
export function optionsFromHttp(body: Readonly<Record<string, unknown>>): Partial<Record<OptionName, unknown>> {
  const out: Partial<Record<OptionName, unknown>> = {};
  for (const [name, spec] of Object.entries(SPECS) as [OptionName, OptionSpec][]) {
    if (!spec.http || spec.not?.includes('scheduler')) continue;
    for (const field of spec.http) {
      const v = body[field];
      if (v === undefined || v === null) continue;
      const p = checkOption(name, v, field);
      if (p) throw new HttpOptionError(p.message, field);
      if (out[name] === undefined) out[name] = v;
    }
  }
  return out;
}
