/**
 * The HTTP server, as `tensorloom serve` runs it (createServer over a tiny random model, inside
 * createLimitedServer), sent mutated requests on raw sockets: JSON bodies with wrong kinds and
 * values, bodies that are not JSON, lying Content-Length, broken chunked encoding, long URLs and
 * headers, odd methods and paths, bodies that drip or stall, and clients that disconnect midway.
 *
 * An input is accepted on a 2xx and refused cleanly on a 4xx; a 5xx, a connection closed without
 * an answer, or no answer within 8 s is unclean. A server crash ends the child (counted as such).
 */
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type ServeHandler } from '../../../ts/server/http.js';
import { createLimitedServer } from '../../../ts/server/limits.js';
import { makeRandomModel } from '../../make-random-model.js';
import { mutateBytes, mutateJson, type FuzzRng } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

interface Ctx {
  dir: string;
  handler: ServeHandler;
  server: Server;
  port: number;
}

const ANSWER_MS = 8_000;

const BODIES: readonly [string, unknown][] = [
  ['/v1/completions', { prompt: 'Once upon', max_tokens: 4, temperature: 0 }],
  ['/v1/completions', { prompt: [1, 2, 3], max_tokens: 3, stream: true, stop: ['\n'], seed: 3, top_k: 5 }],
  ['/v1/completions', { prompt: 'x', max_tokens: 2, temperature: 0.7, top_p: 0.9, min_p: 0.05, presence_penalty: 0.5, frequency_penalty: 0.2, repeat_penalty: 1.1 }],
  ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 }],
  ['/v1/chat/completions', { messages: [{ role: 'system', content: 's' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }], stream: true, stream_options: { include_usage: true }, max_completion_tokens: 2 }],
];
const GETS = ['/health', '/v1/models', '/v1/models/tiny', '/', '/v1/completions', '/%00', '/v1/../health', '/v1/models?x=1'];

/** Sends the request and reads until the server closes: the status code, or null when nothing came back. */
function exchange(port: number, rng: FuzzRng, parts: { head: string; body: Uint8Array; drip: boolean; hangUpAfterMs: number | null }): Promise<{ status: number | null; text: string; hungUp: boolean }> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    let hungUp = false;
    const watchdog = setTimeout(() => {
      s.destroy();
      reject(new Error(`HTTP: no complete answer within ${ANSWER_MS} ms to ${JSON.stringify(parts.head.slice(0, 120))} (got ${JSON.stringify(got.slice(0, 120))})`));
    }, ANSWER_MS);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(watchdog);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
      resolve({ status: m ? Number(m[1]) : null, text: got, hungUp });
    });
    s.write(parts.head);
    if (parts.hangUpAfterMs !== null) {
      setTimeout(() => {
        hungUp = true;
        s.destroy();
      }, parts.hangUpAfterMs);
    }
    if (!parts.drip) s.write(parts.body);
    else {
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed || i >= parts.body.length) return clearInterval(t);
        s.write(parts.body.subarray(i, i + 1 + rng.int(3)));
        i += 1;
      }, 60);
    }
  });
}

export const http: FuzzTarget<Ctx> = {
  name: 'http',
  about: 'the OpenAI-compatible server over a tiny model: mutated bodies, headers, URLs, encodings, slow and vanishing clients',
  unavailable: () => null,
  async setup() {
    const dir = mkdtempSync(join(tmpdir(), 'tl-fuzz-http-'));
    const model = join(dir, 'tiny.gguf');
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 13, gguf: model });
    const handler = await createServer({ model, modelId: 'tiny', parallel: 2, maxQueued: 8, threads: 1, bodyTimeoutMs: 1500, bodyIdleTimeoutMs: 500, maxBodyBytes: 64 * 1024 });
    const server = createLimitedServer(handler, { headersTimeoutMs: 1000, requestTimeoutMs: 3000, keepAliveTimeoutMs: 500 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return { dir, handler, server, port: (server.address() as AddressInfo).port };
  },
  async run(ctx, rng) {
    let method = 'POST';
    let path: string;
    let body: Uint8Array = new Uint8Array(0);
    const headers: string[] = ['Host: 127.0.0.1', 'Connection: close'];
    if (rng.chance(0.2)) {
      method = rng.pick(['GET', 'GET', 'HEAD', 'DELETE', 'PUT', 'OPTIONS', 'BREW', 'get']);
      path = rng.pick(GETS);
    } else {
      const [p, json] = rng.pick(BODIES);
      path = p;
      const text = JSON.stringify(json);
      const r = rng.next();
      const mutated = r < 0.3 ? text : r < 0.8 ? mutateJson(text, rng) : Buffer.from(mutateBytes(Buffer.from(text), rng)).toString('latin1');
      body = Buffer.from(mutated, rng.chance(0.9) ? 'utf8' : 'latin1');
      headers.push(rng.pick(['Content-Type: application/json', 'Content-Type: text/plain', 'Content-Type: application/json; charset=latin1']));
    }
    let length: string | null = String(body.length);
    let chunked = false;
    switch (rng.int(14)) {
      case 0: length = String(body.length + 1 + rng.int(50)); break; // promises more than it sends: stalls
      case 1: length = String(Math.max(0, body.length - 1 - rng.int(10))); break;
      case 2: length = rng.pick(['-1', 'abc', '1e3', '99999999999999999999', '']); break;
      case 3: chunked = true; length = null; break;
      case 4: headers.push(`X-Long: ${'h'.repeat(rng.pick([100, 8000, 20000, 70000]))}`); break;
      case 5: path = `${path}?${'q'.repeat(rng.pick([100, 9000, 20000, 120000]))}`; break;
      case 6: headers.push(`Content-Length: ${body.length}`); break; // duplicated
      case 7: length = null; break;
      default: break;
    }
    if (length !== null) headers.push(`Content-Length: ${length}`);
    if (chunked) {
      headers.push('Transfer-Encoding: chunked');
      const size = body.length.toString(16);
      const bad = rng.chance(0.5);
      body = Buffer.concat([Buffer.from(`${bad ? rng.pick(['zz', '-1', 'ffffffffffff', size + 'x']) : size}\r\n`), body, Buffer.from(bad && rng.chance(0.5) ? '\r\n' : '\r\n0\r\n\r\n')]);
    }
    let head = `${method} ${path} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
    if (rng.chance(0.03)) head = Buffer.from(mutateBytes(Buffer.from(head), rng)).toString('latin1');
    const drip = rng.chance(0.02);
    const hangUpAfterMs = rng.chance(0.05) ? rng.int(200) : null;
    const r = await exchange(ctx.port, rng, { head, body, drip, hangUpAfterMs });
    if (r.hungUp) return; // the client left: the server must only survive it
    if (r.status === null) throw new Error(`HTTP: the connection closed without an answer to ${JSON.stringify(head.slice(0, 160))}`);
    if (r.status >= 500) throw new Error(`HTTP ${r.status} for bad input: ${JSON.stringify(head.slice(0, 160))} ${JSON.stringify(Buffer.from(body).toString('latin1').slice(0, 200))} → ${r.text.slice(r.text.indexOf('\r\n\r\n') + 4, r.text.indexOf('\r\n\r\n') + 300)}`);
    if (r.status >= 400) {
      const err = new Error(`HTTP ${r.status}`);
      err.name = 'RequestError';
      throw err;
    }
  },
  async teardown(ctx) {
    await new Promise((r) => ctx.server.close(r));
    await ctx.handler.close();
    rmSync(ctx.dir, { recursive: true, force: true });
  },
};
