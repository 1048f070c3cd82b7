/**
 * The operational endpoints over the toy engine, on loopback: /tokenize and /detokenize (checked
 * against the toy tokenizer called directly), /metrics (counters move, the text parses as
 * Prometheus exposition), /health during a drain, the API key and CORS.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { listen, post, toyEngine } from './helpers.js';
import { decode, encode } from './toy-engine.js';

describe('tokenize endpoints (toy engine)', () => {
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { stepMs: 1 } });
    ({ server, base } = await listen(handler));
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });

  it('POST /tokenize returns the tokenizer ids; add_special adds BOS', async () => {
    const text = 'Hello, tokenizer é!';
    expect((await post(base, '/tokenize', { content: text })).json).toEqual({ tokens: encode(text, false) });
    expect((await post(base, '/tokenize', { content: text, add_special: true })).json).toEqual({ tokens: encode(text, true) });
  });

  it('with_pieces pairs each id with its text', async () => {
    const { status, json } = await post(base, '/tokenize', { content: 'ab c', with_pieces: true });
    expect(status).toBe(200);
    expect(json.tokens).toEqual(encode('ab c', false).map((id) => ({ id, piece: decode([id]) })));
  });

  it('POST /detokenize inverts /tokenize', async () => {
    const text = 'round trip é';
    const { json } = await post(base, '/detokenize', { tokens: encode(text, true) });
    expect(json).toEqual({ content: text });
  });

  it('bad input answers 400 naming the field', async () => {
    const cases: [string, unknown, string][] = [
      ['/tokenize', {}, 'content'],
      ['/tokenize', { content: 5 }, 'content'],
      ['/tokenize', { content: 'x', add_special: 'yes' }, 'add_special'],
      ['/tokenize', { content: 'x', with_pieces: 1 }, 'with_pieces'],
      ['/detokenize', { tokens: 'abc' }, 'tokens'],
      ['/detokenize', { tokens: [1, -2] }, 'tokens'],
      ['/detokenize', { tokens: [1, 2.5] }, 'tokens'],
      ['/detokenize', { tokens: [1, 100000] }, 'tokens'],
    ];
    for (const [path, body, param] of cases) {
      const r = await post(base, path, body);
      expect(r.status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.json.error.param).toBe(param);
      expect(r.json.error.message).toContain(param);
    }
    const get = await fetch(`${base}/tokenize`);
    expect(get.status).toBe(405);
  });
});
