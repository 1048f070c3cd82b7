/**
 * Every HTTP request is bounded in time and answered, never reset (issue #16, escape 6): a body
 * dripping one byte per 100 ms or stalling gets 408, so do stalled headers; a 100 KB URL gets 414,
 * headers too large 431, garbage 400 — each as a response the client can read.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { createLimitedServer } from '../../ts/server/limits.js';
import { toyEngine } from '../server/helpers.js';

/** Sends `head` (then `drip` one byte per 100 ms, if given) on a raw socket; resolves with the status line, or the socket error. */
function raw(port: number, head: string, drip = ''): Promise<{ status: string; ms: number; error?: string }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const t0 = performance.now();
    let got = '';
    let error: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', (e) => (error = (e as NodeJS.ErrnoException).code ?? e.message));
    s.on('close', () => {
      clearInterval(timer);
      resolve({ status: got.split('\r\n')[0] ?? '', ms: performance.now() - t0, ...(error ? { error } : {}) });
    });
    s.write(head);
    let i = 0;
    if (drip) timer = setInterval(() => (i < drip.length && !s.destroyed ? s.write(drip[i++]!) : clearInterval(timer)), 100);
  });
}

describe('HTTP: bounded in time, answered not reset', () => {
  let handler: ServeHandler;
  let server: Server;
  let port: number;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1, bodyTimeoutMs: 1000, bodyIdleTimeoutMs: 400 });
    server = createLimitedServer(handler, { headersTimeoutMs: 600, requestTimeoutMs: 3000 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await handler?.close();
  });

  const post = (len: number): string => `POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${len}\r\n\r\n`;

  it('a body sent one byte per 100 ms gets 408 once the body time is up', async () => {
    const body = JSON.stringify({ prompt: 'x'.repeat(200) });
    const r = await raw(port, post(body.length), body);
    expect(r.status).toBe('HTTP/1.1 408 Request Timeout');
    expect(r.ms).toBeLessThan(10_000);
  });

  it('a body that stalls gets 408 after the idle time', async () => {
    const r = await raw(port, post(100) + '{"prompt": "x');
    expect(r.status).toBe('HTTP/1.1 408 Request Timeout');
  });

  it('headers that stall get 408', async () => {
    const r = await raw(port, 'GET /health HTTP/1.1\r\nHost: x\r\n');
    expect(r.status).toBe('HTTP/1.1 408 Request Timeout');
    expect(r.error).toBeUndefined();
  });

  it('a 100 KB URL gets 414, not a connection reset; a 10 KB one too (from the handler)', async () => {
    const big = await raw(port, `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(big.status).toBe('HTTP/1.1 414 URI Too Long');
    expect(big.error).toBeUndefined();
    const mid = await raw(port, `GET /${'a'.repeat(10_000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(mid.status).toBe('HTTP/1.1 414 URI Too Long');
  });

  it('headers too large get 431; garbage gets 400', async () => {
    expect((await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(100_000)}\r\n\r\n`)).status).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    expect((await raw(port, 'NOT HTTP AT ALL\r\n\r\n')).status).toBe('HTTP/1.1 400 Bad Request');
  });

  it('the server still answers afterwards', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/health`);
    expect(r.status).toBe(200);
  });
});
