/**
 * Bad generation options and callbacks, against the real stories260K model in its worker thread
 * (issue #16, escapes 1, 2 and 7): each one rejects its own promise with an error naming the
 * option, the worker and the process live on, and the next call works.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENERATE_OPTIONS, knownOptions, optionProblems, optionsFromHttp, validateGenerateOptions } from '../../ts/generate/options.js';
import { withoutRejected } from '../../ts/generate/worker-exec-argv.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import type { GenerateOptions } from '../../ts/generate/types.js';
import { haveStories, nativeAvailable, stories, storiesMissing } from '../models/helpers.js';

const backend = nativeAvailable() ? 'native' : 'js';
const bad = <T>(v: unknown): T => v as T;

describe('the option table (ts/generate/options.ts)', () => {
  it('names the option and what it wants, with TypeError for a wrong kind and RangeError for a wrong value', () => {
    expect(() => validateGenerateOptions({ topK: 1e12 }, 'api')).toThrow(RangeError);
    expect(() => validateGenerateOptions({ topK: 1e12 }, 'api')).toThrow(/topK must be an integer in \[0, 2147483647\].*got number 1000000000000/);
    for (const seed of [-1, 1.5, 2 ** 64, Number.POSITIVE_INFINITY]) expect(() => validateGenerateOptions({ seed }, 'api')).toThrow(/seed must be an integer/);
    expect(() => validateGenerateOptions({ stop: '' }, 'api')).toThrow(/stop must be .*non-empty/);
    expect(() => validateGenerateOptions({ stop: ['ok', ''] }, 'api')).toThrow(/stop must be/);
    expect(() => validateGenerateOptions({ signal: 'x' }, 'api')).toThrow(TypeError);
    expect(() => validateGenerateOptions({ signal: {} }, 'api')).toThrow(/signal must be an AbortSignal; got an object/);
    expect(() => validateGenerateOptions({ onText: 5 }, 'api')).toThrow(/onText must be a function; got number 5/);
    expect(() => validateGenerateOptions(null, 'api')).toThrow(/options must be an object; got null/);
    expect(() => validateGenerateOptions({ temprature: 0 }, 'api')).toThrow(/unknown option 'temprature'; known options: temperature, topK/);
    expect(validateGenerateOptions({ temperature: 0, seed: 7, stop: ['a'] }, 'api')).toEqual({ temperature: 0, seed: 7, stop: ['a'] });
  });

  it('hooks are API-only; the scheduler has no penaltyLastN; every surface knows every other entry', () => {
    expect(knownOptions('api')).toEqual(Object.keys(GENERATE_OPTIONS).filter((k) => k !== 'logitBias' && k !== 'n'));
    expect(knownOptions('scheduler')).toContain('logitBias'); // the batching server's OpenAI logit_bias
    expect(knownOptions('scheduler')).toContain('n'); // n choices need the batching scheduler's slots
    expect(knownOptions('api')).toContain('topLogprobs');
    expect(knownOptions('engine')).not.toContain('onText');
    expect(knownOptions('engine')).not.toContain('signal');
    expect(knownOptions('scheduler')).not.toContain('penaltyLastN');
    expect(optionProblems({ onText: () => {} }, 'engine')[0]!.kind).toBe('unknown');
  });

  it('HTTP reads snake_case fields through the same entries (null = absent) and names the field', () => {
    expect(optionsFromHttp({ top_k: 5, repeat_penalty: 1.1, seed: null, temperature: 0 })).toEqual({ topK: 5, repetitionPenalty: 1.1, temperature: 0 });
    expect(() => optionsFromHttp({ top_p: 0 })).toThrow(/top_p must be a number in \(0, 1\]/);
    expect(() => optionsFromHttp({ min_p: '0.1' })).toThrow(/min_p must be/);
  });

  it('drops exactly the execArgv flags a worker refuses (ERR_WORKER_INVALID_EXEC_ARGV message)', () => {
    const msg = 'Initiated Worker with invalid execArgv flags: --expose-gc, --max-old-space-size';
    expect(withoutRejected(['--expose-gc', '--conditions=dev', '--max-old-space-size', '512', '--import', 'tsx'], msg)).toEqual(['--conditions=dev', '--import', 'tsx']);
    expect(withoutRejected(['--expose_gc'], msg)).toEqual([]);
  });
});

describe.skipIf(!haveStories)(`bad options and callbacks on stories260K in a worker (${backend}) ${haveStories ? '' : storiesMissing}`, () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(stories.bin, { backend, threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
  });

  it('escape 1: onText that is not a function, or that throws, rejects that call; the process and the model live on', async () => {
    await expect(model.generate('Lily', bad<GenerateOptions>({ onText: 5 }))).rejects.toThrow(/onText must be a function/);
    const thrown = new Error('the callback failed');
    await expect(model.generate('Lily', { maxTokens: 20, temperature: 0, onText: () => { throw thrown; } })).rejects.toBe(thrown);
    const s = model.stream('Lily', { maxTokens: 20, temperature: 0, onText: () => { throw thrown; } });
    await expect((async () => { for await (const _ of s) { /* drain */ } })()).rejects.toBe(thrown);
    expect((await model.generate('Lily', { maxTokens: 5, temperature: 0 })).tokens).toHaveLength(5);
  });

  it('escape 2: null options, bad signals, seeds, topK, empty stop strings and unknown keys reject, naming the option', async () => {
    const calls: [unknown, RegExp][] = [
      [null, /options must be an object; got null/],
      [{ signal: 'x' }, /signal must be an AbortSignal/],
      [{ signal: {} }, /signal must be an AbortSignal/],
      [{ seed: -1 }, /seed must be an integer in \[0, 2\^53 − 1\]; got number -1/],
      [{ seed: 1.5 }, /seed must be an integer/],
      [{ seed: 2 ** 64 }, /seed must be an integer/],
      [{ topK: 1e12 }, /topK must be an integer in \[0, 2147483647\]/],
      [{ stop: '' }, /stop must be/],
      [{ maxTokens: 5, colour: 'red' }, /unknown option 'colour'; known options: .*maxTokens/],
    ];
    for (const [options, message] of calls) {
      // generate never throws synchronously: it returns a rejected promise
      let p!: Promise<unknown>;
      expect(() => (p = model.generate('Lily', bad<GenerateOptions>(options)))).not.toThrow();
      await expect(p, JSON.stringify(options)).rejects.toThrow(message);
      const s = model.stream('Lily', bad<GenerateOptions>(options));
      await expect(s.result).rejects.toThrow(message);
    }
  });

  it('encode: bad options reject instead of throwing', async () => {
    await expect(model.encode('Lily', null as unknown as { addBos?: boolean })).rejects.toThrow(/encode options must be an object/);
    await expect(model.encode('Lily', { addBos: 'yes' as unknown as boolean })).rejects.toThrow(/addBos must be true or false/);
    expect(await model.encode('Lily', { addBos: false })).not.toContain(1);
  });

  it('escape 2: an empty prompt with addBos false says that is why there is nothing to start from', async () => {
    await expect(model.generate('', { addBos: false })).rejects.toThrow(/the prompt is empty and addBos is false/);
    expect((await model.generate('', { maxTokens: 3, temperature: 0 })).tokens).toHaveLength(3);
  });

  it('escape 7: loadModel works under node --expose-gc (the worker does not inherit flags it refuses)', () => {
    const script = `
      const { loadModel } = await import(${JSON.stringify(new URL('../../ts/generate/model.ts', import.meta.url).href)});
      const m = await loadModel(${JSON.stringify(stories.bin)}, { backend: ${JSON.stringify(backend)}, threads: 1 });
      const r = await m.generate('', { temperature: 0, maxTokens: 4 });
      globalThis.gc();
      await m.dispose();
      console.log('tokens', r.tokens.length);`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toMatch(/ERR_WORKER_INVALID_EXEC_ARGV/);
    expect(r.stdout).toMatch(/tokens 4/);
    expect(r.status).toBe(0);
  });
});
