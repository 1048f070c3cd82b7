/**
 * The batching Scheduler takes the same option table as the single-model API, and a callback
 * that throws fails its own call only (issue #16): the scheduler keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scheduler, type GenerateOptions } from '../../ts/server/scheduler.js';
import { toyEngine } from '../server/helpers.js';

describe('Scheduler: option table and throwing callbacks (toy engine)', () => {
  let s: Scheduler;
  beforeAll(async () => {
    s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, maxQueued: 8, engineOptions: { stepMs: 1 } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('bad options reject naming the option; unknown keys list the known ones; penaltyLastN is not a scheduler option', async () => {
    const bad = (o: unknown): GenerateOptions => o as GenerateOptions;
    await expect(s.generate('abc', bad({ seed: -1 }))).rejects.toThrow(/seed must be an integer in \[0, 2\^53 − 1\]/);
    await expect(s.generate('abc', bad({ topK: 1e12 }))).rejects.toThrow(RangeError);
    await expect(s.generate('abc', bad({ stop: '' }))).rejects.toThrow(/stop must be/);
    await expect(s.generate('abc', bad({ onText: 5 }))).rejects.toThrow(/onText must be a function/);
    await expect(s.generate('abc', bad({ penaltyLastN: 4 }))).rejects.toThrow(/unknown option 'penaltyLastN'; known options: temperature/);
    await expect(s.generate('abc', bad(null))).rejects.toThrow(/options must be an object/);
  });

  it('an onText that throws rejects its call with that error; the next call works', async () => {
    const boom = new Error('callback failed');
    await expect(s.generate('abc', { maxTokens: 8, onText: () => { throw boom; } })).rejects.toBe(boom);
    const r = await s.generate('abc', { maxTokens: 4 });
    expect(r.tokens).toHaveLength(4);
    expect(s.stats().outstanding).toBe(0);
  });
});
