/**
 * `await using` on the server side: a Scheduler and a createServer() handler are closed at the end
 * of their scope, after the requests in flight have finished (drain, then stop); afterwards they
 * take no new work. (Model, EmbeddingModel and ChatSession have their own tests.)
 */
import { describe, expect, it } from 'vitest';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { UnavailableError } from '../../ts/server/errors.js';
import { Scheduler } from '../../ts/server/scheduler.js';
import { encode, expected } from './toy-engine.js';

const toyEngine = new URL('./toy-engine.ts', import.meta.url).href;

describe('await using', () => {
  it('a Scheduler drains its calls in flight and closes at the end of the scope', async () => {
    let kept: Scheduler;
    let inFlight: Promise<{ tokens: number[] }>;
    {
      await using s = await Scheduler.load({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { stepMs: 2 } });
      kept = s;
      inFlight = s.generate('Hello', { maxTokens: 12, temperature: 0 });
    }
    // the call made inside the scope finished (drain) before the scope's end resumed
    const r = await Promise.race([inFlight, Promise.resolve(null)]);
    expect(r?.tokens).toEqual(expected(encode('Hello', true), 12).tokens);
    expect(kept.stats().draining).toBe(true);
    await expect(kept.generate('x', { maxTokens: 1 })).rejects.toBeInstanceOf(UnavailableError);
  });

  it('a server handler closes (and stops the scheduler it loaded) at the end of the scope', async () => {
    let kept: ServeHandler;
    {
      await using handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1 });
      kept = handler;
      expect(typeof handler[Symbol.asyncDispose]).toBe('function');
    }
    expect(kept.scheduler.stats().draining).toBe(true);
    await expect(kept.scheduler.generate('x', { maxTokens: 1 })).rejects.toBeInstanceOf(UnavailableError);
  });
});
