/**
 * `tensorloom serve --api-key / TENSORLOOM_API_KEY / --cors` as a child process (toy engine,
 * loopback), and the handler that answers while the model loads.
 */
import { describe, expect, it } from 'vitest';
import { loadingHandler } from '../../ts/server/loading.js';
import { listen, startServe } from './helpers.js';

async function withServe(args: string[], env: Record<string, string>, body: (base: string) => Promise<void>): Promise<void> {
  const cli = startServe(['--model', 'toy', '--engine', 'test/server/toy-engine.ts', '--port', '0', '--parallel', '1', ...args], { TENSORLOOM_API_KEY: '', ...env });
  try {
    await body(await cli.base);
  } finally {
    cli.child.kill('SIGTERM');
    expect(await cli.exit).toBe(0);
  }
}

describe('tensorloom serve: --api-key, TENSORLOOM_API_KEY, --cors', () => {
  it('--api-key guards every route but /health; --cors answers preflights', async () => {
    await withServe(['--api-key', 'k-flag', '--cors', 'https://ui.example'], {}, async (base) => {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/v1/models`)).status).toBe(401);
      expect((await fetch(`${base}/v1/models`, { headers: { authorization: 'Bearer k-flag' } })).status).toBe(200);
      const pre = await fetch(`${base}/v1/completions`, { method: 'OPTIONS', headers: { origin: 'https://ui.example', 'access-control-request-method': 'POST' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('https://ui.example');
    });
  });

  it('TENSORLOOM_API_KEY sets the key when the flag is absent', async () => {
    await withServe([], { TENSORLOOM_API_KEY: 'k-env' }, async (base) => {
      expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer k-flag' } })).status).toBe(401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer k-env' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('# TYPE tensorloom_queue_depth gauge');
    });
  });
});

describe('loadingHandler', () => {
  it('answers /health and every other route 503 while the model loads', async () => {
    const { server, base } = await listen(loadingHandler);
    try {
      const h = await fetch(`${base}/health`);
      expect(h.status).toBe(503);
      expect(await h.json()).toEqual({ status: 'loading' });
      const r = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('model_loading');
    } finally {
      server.close();
    }
  });
});
