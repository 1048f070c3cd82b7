/**
 * `tensorloom serve` as a child process (toy engine, loopback): it serves, and on SIGTERM it stops
 * taking requests, finishes the one in flight, and exits 0.
 */
import { describe, expect, it } from 'vitest';
import { post, startServe } from './helpers.js';
import { encode, expected } from './toy-engine.js';

describe('tensorloom serve (CLI)', () => {
  it('drains the request in flight on SIGTERM, refuses new ones, then exits 0', async () => {
    const cli = startServe(['--model', 'toy', '--engine', 'test/server/toy-engine.ts', '--port', '0', '--parallel', '2'], { TOY_STEP_MS: '10' });
    try {
      const base = await cli.base;
      expect((await fetch(`${base}/health`)).status).toBe(200);
      // ~100 steps of 10 ms: still running when SIGTERM arrives.
      const inflight = fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'drain me', max_tokens: 100, temperature: 0, stream: true }) });
      const res = await inflight;
      const reader = res.body!.getReader();
      const first = await reader.read();
      cli.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      // New work is refused while draining (503 on a fresh connection, or the listener is already closed).
      const late = await post(base, '/v1/completions', { prompt: 'late' }).catch((e: Error) => e);
      if (!(late instanceof Error)) expect(late.status).toBe(503);
      let raw = new TextDecoder().decode(first.value);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        raw += new TextDecoder().decode(value);
      }
      expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
      const text = raw
        .split('\n\n')
        .filter((b) => b.startsWith('data: {'))
        .map((b) => JSON.parse(b.slice(6)).choices[0].text as string)
        .join('');
      expect(text).toBe(expected(encode('drain me', true), 100).text);
      expect(await cli.exit).toBe(0);
      expect(cli.stderr()).toMatch(/SIGTERM: finishing 1 request\(s\) in flight/);
    } finally {
      cli.child.kill('SIGKILL');
    }
  });

  it('bad flags and a model that cannot load give clear errors and a non-zero exit', async () => {
    const a = startServe(['--model', 'toy', '--port', 'eighty']);
    expect(await a.exit).toBe(1);
    expect(a.stderr()).toMatch(/--port must be an integer in \[0, 65535\], got 'eighty'/);
    const b = startServe(['--nope']);
    expect(await b.exit).toBe(2);
    expect(b.stderr()).toMatch(/Unknown option '--nope'/);
    const c = startServe(['--model', '/nonexistent/model.gguf', '--port', '0']);
    expect(await c.exit).toBe(1);
  });
});
