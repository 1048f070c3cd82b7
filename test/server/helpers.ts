/** Loopback HTTP helpers for the server tests, and `tensorloom serve` as a child process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { ServeHandler } from '../../ts/server/http.js';
import { repoRoot } from '../formats/helpers.js';

export const toyEngine = new URL('./toy-engine.ts', import.meta.url).href;

export async function listen(handler: ServeHandler | ((req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void)): Promise<{ server: Server; base: string }> {
  const server = createHttpServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function post(base: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, any>; headers: Headers }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {}, headers: res.headers };
}

/** Reads a whole SSE response: the JSON of each `data:` event, and whether it ended with [DONE]. */
export async function postStream(base: string, path: string, body: unknown): Promise<{ status: number; contentType: string | null; events: any[]; done: boolean; raw: string }> {
  const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const raw = await res.text();
  const blocks = raw.split('\n\n').filter((b) => b.length > 0);
  const events: any[] = [];
  let done = false;
  for (const b of blocks) {
    if (!b.startsWith('data: ')) throw new Error(`not an SSE data line: ${JSON.stringify(b)}`);
    const data = b.slice(6);
    if (data === '[DONE]') done = true;
    else events.push(JSON.parse(data));
  }
  return { status: res.status, contentType: res.headers.get('content-type'), events, done, raw };
}

/** Opens a streaming request, resolves after the first body bytes, and returns a way to cut the connection. */
export function openStream(base: string, path: string, body: unknown): Promise<{ first: string; destroy: () => void }> {
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      res.once('data', (chunk: Buffer) => resolve({ first: chunk.toString(), destroy: () => req.destroy() }));
      res.on('error', () => {});
    });
    req.on('error', (e) => reject(e));
    req.end(JSON.stringify(body));
  });
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * `tensorloom serve ARGS` as a child process (environment: ours with `env` over it): `base` resolves
 * to the URL it prints once listening and rejects, with its stderr, if it exits first.
 */
export function startServe(args: string[], env: Record<string, string> = {}): { child: ChildProcessWithoutNullStreams; base: Promise<string>; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'ts/cli.ts'), 'serve', ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const base = new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`serve exited early (${code}): ${err}`)));
  });
  base.catch(() => {}); // tests that expect an early exit never await it
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, base, stderr: () => err, exit };
}
