/**
 * The operational endpoints over the toy engine, on loopback: /tokenize and /detokenize (checked
 * against the toy tokenizer called directly), /metrics (counters move, the text parses as
 * Prometheus exposition), /health during a drain, the API key and CORS.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { loadModel } from '../../ts/generate/index.js';
import { storiesDir } from '../formats/helpers.js';
import { oracleMissing, oracleModel, oraclePath } from '../models/llama-cpp-oracle.js';
import { listen, post, toyEngine } from './helpers.js';
import { decode, encode, expected } from './toy-engine.js';

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

/** Parses Prometheus text exposition strictly: every sample belongs to a declared metric, values are numbers. */
function parseExposition(text: string): Map<string, { type: string; samples: { labels: Record<string, string>; value: number; name: string }[] }> {
  const families = new Map<string, { type: string; samples: { labels: Record<string, string>; value: number; name: string }[] }>();
  expect(text.endsWith('\n')).toBe(true);
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      expect(families.has(t[1]!), `metric ${t[1]} declared twice`).toBe(false);
      families.set(t[1]!, { type: t[2]!, samples: [] });
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|NaN))$/.exec(line);
    expect(m, `not an exposition line: ${JSON.stringify(line)}`).not.toBeNull();
    const name = m![1]!;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    expect(family, `sample ${name} without a TYPE line`).toBeDefined();
    const labels: Record<string, string> = {};
    for (const l of (m![2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    family!.samples.push({ name, labels, value: Number(m![3]) });
  }
  return families;
}

const value = (f: ReturnType<typeof parseExposition>, name: string, labels: Record<string, string> = {}): number => {
  const fam = f.get(name.replace(/_(bucket|sum|count)$/, '')) ?? f.get(name);
  const s = fam?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
};

describe('/metrics and /health (toy engine)', () => {
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 2, maxQueued: 4, engineOptions: { stepMs: 1 } });
    ({ server, base } = await listen(handler));
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });

  it('counters move after a request and the text parses as Prometheus exposition', async () => {
    const res0 = await fetch(`${base}/metrics`);
    expect(res0.status).toBe(200);
    expect(res0.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const before = parseExposition(await res0.text());
    expect(before.get('tensorloom_time_to_first_token_seconds')?.type).toBe('histogram');
    expect(before.get('tensorloom_queue_depth')?.type).toBe('gauge');
    expect(value(before, 'tensorloom_slots_total')).toBe(2);

    const prompt = 'count me';
    const r = await post(base, '/v1/completions', { prompt, max_tokens: 12, temperature: 0 });
    expect(r.status).toBe(200);
    expect((await post(base, '/v1/completions', { prompt, max_tokens: 0 })).status).toBe(400);

    const after = parseExposition(await (await fetch(`${base}/metrics`)).text());
    const ok = { route: '/v1/completions', status: '200' };
    expect(value(after, 'tensorloom_requests_total', ok) - value(before, 'tensorloom_requests_total', ok)).toBe(1);
    expect(value(after, 'tensorloom_requests_total', { route: '/v1/completions', status: '400' })).toBe(1);
    expect(value(after, 'tensorloom_requests_total', { route: '/metrics', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(value(after, 'tensorloom_prompt_tokens_total') - value(before, 'tensorloom_prompt_tokens_total')).toBe(encode(prompt, true).length);
    expect(value(after, 'tensorloom_generated_tokens_total') - value(before, 'tensorloom_generated_tokens_total')).toBe(12);
    expect(value(after, 'tensorloom_time_to_first_token_seconds_count')).toBe(1);
    expect(value(after, 'tensorloom_time_to_first_token_seconds_bucket', { le: '+Inf' })).toBe(1);
    expect(value(after, 'tensorloom_time_per_output_token_seconds_count')).toBe(1);
    expect(value(after, 'tensorloom_time_per_output_token_seconds_sum')).toBeGreaterThan(0);
    // Buckets are cumulative: non-decreasing in le.
    const buckets = after.get('tensorloom_time_to_first_token_seconds')!.samples.filter((s) => s.name.endsWith('_bucket')).map((s) => s.value);
    for (let i = 1; i < buckets.length; i++) expect(buckets[i]!).toBeGreaterThanOrEqual(buckets[i - 1]!);
    expect(value(after, 'tensorloom_slots_busy')).toBe(0);
    expect(value(after, 'tensorloom_queue_depth')).toBe(0);

    // the same prompt again: all but its last token come from the slot's cache, and the counters say so
    const again = await post(base, '/v1/completions', { prompt, max_tokens: 2, temperature: 0 });
    const n = encode(prompt, true).length;
    expect(again.json.usage.prompt_tokens_details.cached_tokens).toBe(n - 1);
    const last = parseExposition(await (await fetch(`${base}/metrics`)).text());
    expect(value(last, 'tensorloom_prompt_tokens_cached_total') - value(after, 'tensorloom_prompt_tokens_cached_total')).toBe(n - 1);
    expect(value(last, 'tensorloom_prompt_tokens_computed_total') - value(after, 'tensorloom_prompt_tokens_computed_total')).toBe(1);
    expect(value(last, 'tensorloom_prompt_tokens_total') - value(after, 'tensorloom_prompt_tokens_total')).toBe(n);
  });

  it('/health is 200 when ready and 503 while draining (readiness probe)', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    // A long request keeps the drain pending while /health is asked.
    const long = post(base, '/v1/completions', { prompt: 'x', max_tokens: 200, temperature: 0, ignore_eos: true });
    await new Promise((r) => setTimeout(r, 50));
    const drained = handler.drain();
    const h = await fetch(`${base}/health`);
    expect(h.status).toBe(503);
    expect(((await h.json()) as { status: string }).status).toBe('draining');
    expect((await post(base, '/v1/completions', { prompt: 'y' })).status).toBe(503);
    expect((await long).status).toBe(200);
    await drained;
  });
});

describe('API key and CORS (toy engine)', () => {
  const KEY = 'sk-test-0123456789';
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1, apiKey: KEY, cors: 'https://app.example', engineOptions: { stepMs: 1 } });
    ({ server, base } = await listen(handler));
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });
  const call = (path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Response> =>
    fetch(base + path, body === undefined ? { headers } : { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

  it('answers 401 with a JSON error without the key or with a wrong one, on every route but /health', async () => {
    for (const headers of <Record<string, string>[]>[{}, { authorization: `Bearer ${KEY}x` }, { authorization: 'Bearer sk' }, { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
      for (const [path, body] of [['/v1/models', undefined], ['/metrics', undefined], ['/v1/completions', { prompt: 'a', max_tokens: 2 }], ['/tokenize', { content: 'a' }], ['/nope', undefined]] as const) {
        const r = await call(path, headers, body);
        expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
        const j = (await r.json()) as { error: { code: string; message: string } };
        expect(j.error.code).toBe('invalid_api_key');
      }
    }
    expect((await call('/health')).status).toBe(200);
  });

  it('accepts the right key', async () => {
    const auth = { authorization: `Bearer ${KEY}` };
    expect((await call('/v1/models', auth)).status).toBe(200);
    const r = await call('/v1/completions', auth, { prompt: 'a', max_tokens: 3, temperature: 0 });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(3);
  });

  it('answers a CORS preflight with 204 and the allow headers (no key needed), and tags responses for the allowed origin', async () => {
    const pre = await fetch(`${base}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    const other = await fetch(`${base}/v1/models`, { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
    expect(other.status).toBe(204);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const got = await call('/v1/models', { origin: 'https://app.example', authorization: `Bearer ${KEY}` });
    expect(got.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const denied = await call('/v1/models', { origin: 'https://app.example' });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe('https://app.example');
  });
});

describe('item 5 request fields (toy engine)', () => {
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { stepMs: 1, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' } });
    ({ server, base } = await listen(handler));
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });
  const Q = encode('q', false)[0]!;

  it('logit_bias +100 forces a token, -100 bans one (checked against the unbiased reference)', async () => {
    const prompt = 'bias';
    const forced = await post(base, '/v1/completions', { prompt, max_tokens: 8, temperature: 0, logit_bias: { [Q]: 100 } });
    expect(forced.status).toBe(200);
    expect(forced.json.choices[0].text).toBe('q'.repeat(8));
    const ref = expected(encode(prompt, true), 1);
    const banned = await post(base, '/v1/completions', { prompt, max_tokens: 1, temperature: 0, logit_bias: { [ref.tokens[0]!]: -100 } });
    expect(banned.json.choices[0].text).not.toBe(ref.text);
    expect(banned.json.choices[0].text).toHaveLength(1);
    const chat = await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_completion_tokens: 5, temperature: 0, logit_bias: { [Q]: 100 } });
    expect(chat.json.choices[0].message.content).toBe('qqqqq');
    expect(chat.json.usage.completion_tokens).toBe(5);
  });

  it('seed makes sampling reproducible over HTTP', async () => {
    const body = { prompt: 'seeded', max_tokens: 20, temperature: 1.5, seed: 42 };
    const a = await post(base, '/v1/completions', body);
    const b = await post(base, '/v1/completions', body);
    expect(a.json.choices[0].text).toBe(b.json.choices[0].text);
  });

  it('bad or unsupported fields answer 400 naming them', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/completions', { prompt: 'x', logit_bias: { abc: 1 } }, 'logit_bias'],
      ['/v1/completions', { prompt: 'x', logit_bias: { 5: 101 } }, 'logit_bias'],
      ['/v1/completions', { prompt: 'x', logit_bias: [1] }, 'logit_bias'],
      ['/v1/completions', { prompt: 'x', logit_bias: { 100000: 1 } }, 'logit_bias'],
      ['/v1/completions', { prompt: 'x', mirostat: 2 }, 'mirostat'],
      ['/v1/completions', { prompt: 'x', max_completion_tokens: 3 }, 'max_completion_tokens'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], functions: [] }, 'functions'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], top_logprobs: 3 }, 'top_logprobs'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], presence_penalty: 3 }, 'presence_penalty'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], frequency_penalty: 'high' }, 'frequency_penalty'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'x' }], seed: 1.5 }, 'seed'],
    ];
    for (const [path, body, param] of cases) {
      const r = await post(base, path, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.json.error.param).toBe(param);
      expect(r.json.error.message).toContain(param);
    }
    // OpenAI bookkeeping fields are accepted.
    expect((await post(base, '/v1/completions', { prompt: 'x', max_tokens: 2, user: 'u1', metadata: { a: 'b' } })).status).toBe(200);
  });
});

const storiesGguf = join(storiesDir, 'stories260K-f32.gguf');
describe.skipIf(!existsSync(storiesGguf) || !oraclePath)(`/tokenize on stories260K against llama.cpp (skipped without ../shared/models/stories260K or: ${oracleMissing})`, () => {
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: storiesGguf, parallel: 1 });
    ({ server, base } = await listen(handler));
  }, 60_000);
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });

  it('token ids equal node-llama-cpp tokenize(); /detokenize equals its detokenize()', async () => {
    const oracle = await oracleModel(storiesGguf);
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'She said: "Hello!"  Two  spaces', 'x']) {
      const ours = (await post(base, '/tokenize', { content: text, parse_special: false })).json.tokens as number[];
      expect(ours).toEqual(oracle.tokenize(text, false));
      const withBos = (await post(base, '/tokenize', { content: text, add_special: true })).json.tokens as number[];
      expect(withBos).toEqual([oracle.tokens.bos, ...ours]);
      expect((await post(base, '/detokenize', { tokens: ours })).json.content).toBe(oracle.detokenize(ours));
      const pieces = (await post(base, '/tokenize', { content: text, with_pieces: true })).json.tokens as { id: number; piece: string }[];
      expect(pieces.map((p) => p.id)).toEqual(ours);
      expect(pieces.map((p) => p.piece).join('').replace(/\u2581/g, ' ').trimStart()).toBe(text);
    }
  }, 60_000);

  it('presence_penalty / frequency_penalty reach the sampler: the reply equals in-process generation with the same penalties', async () => {
    const single = await loadModel(storiesGguf, { worker: false });
    try {
      const prompt = 'Once upon a time';
      const plain = await single.generate(prompt, { temperature: 0, maxTokens: 40 });
      const want = await single.generate(prompt, { temperature: 0, maxTokens: 40, presencePenalty: 1.5, frequencyPenalty: 1 });
      expect(want.text).not.toBe(plain.text); // the penalties change this output, so the check below can fail
      const got = await post(base, '/v1/completions', { prompt, max_tokens: 40, temperature: 0, presence_penalty: 1.5, frequency_penalty: 1 });
      expect(got.json.choices[0].text).toBe(want.text);
      const none = await post(base, '/v1/completions', { prompt, max_tokens: 40, temperature: 0 });
      expect(none.json.choices[0].text).toBe(plain.text);
    } finally {
      await single.dispose();
    }
  }, 60_000);
});
