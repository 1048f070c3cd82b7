/**
 * The OpenAI-compatible HTTP layer over the toy engine, on loopback: every endpoint, the SSE
 * format, request validation, 429 on a full queue, and client disconnects freeing slots.
 * Expected texts come from the toy model's direct (unbatched) reference and from rendering the
 * chat template with @huggingface/jinja directly.
 */
import { Template } from '@huggingface/jinja';
import { request, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { listen, openStream, post, postStream, toyEngine, waitFor } from './helpers.js';
import { encode, expected } from './toy-engine.js';

// A ChatML-style template that writes BOS as text and rejects a conversation ending with the assistant.
const chatTemplate =
  "{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}" +
  "{% if messages[-1].role == 'assistant' %}{{ raise_exception('the last message must not be from the assistant') }}{% endif %}" +
  '{% if add_generation_prompt %}<|assistant|>{% endif %}';

describe('HTTP server (toy engine)', () => {
  let handler: ServeHandler;
  let server: Server;
  let base: string;
  beforeAll(async () => {
    handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 4, maxQueued: 8, maxBodyBytes: 4096, engineOptions: { chatTemplate, stepMs: 1 } });
    ({ server, base } = await listen(handler));
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });

  it('GET /health reports the model and free slots', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', model: 'toy', slots: { total: 4, busy: 0 }, queue: { waiting: 0, max: 8 } });
  });

  it('GET /v1/models lists the model', async () => {
    const body = (await (await fetch(`${base}/v1/models`)).json()) as { object: string; data: { id: string; object: string }[] };
    expect(body.object).toBe('list');
    expect(body.data.map((m) => [m.id, m.object])).toEqual([['toy', 'model']]);
  });

  it('POST /v1/completions returns the text, finish reason and usage', async () => {
    const prompt = 'Once upon a time';
    const ref = expected(encode(prompt, true), 24);
    const { status, json } = await post(base, '/v1/completions', { model: 'toy', prompt, max_tokens: 24, temperature: 0 });
    expect(status).toBe(200);
    expect(json.object).toBe('text_completion');
    expect(json.id).toMatch(/^cmpl-/);
    expect(json.choices).toEqual([{ index: 0, text: ref.text, logprobs: null, finish_reason: 'length' }]);
    const n = encode(prompt, true).length;
    // the server's first generation: no slot holds a prefix of it yet
    expect(json.usage).toEqual({ prompt_tokens: n, completion_tokens: 24, total_tokens: n + 24, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('usage reports the prompt tokens served from a slot cache (prompt_tokens_details.cached_tokens), streamed too', async () => {
    const messages = [{ role: 'user', content: 'a question asked twice, word for word' }];
    const first = await post(base, '/v1/chat/completions', { messages, max_tokens: 5, temperature: 0 });
    const n = first.json.usage.prompt_tokens;
    expect(first.json.usage.prompt_tokens_details.cached_tokens).toBeLessThan(n / 2);
    const again = await post(base, '/v1/chat/completions', { messages, max_tokens: 5, temperature: 0 });
    expect(again.json.choices).toEqual(first.json.choices);
    // all but the last prompt token (which runs for its logits)
    expect(again.json.usage).toEqual({ prompt_tokens: n, completion_tokens: 5, total_tokens: n + 5, prompt_tokens_details: { cached_tokens: n - 1 } });
    const s = await postStream(base, '/v1/chat/completions', { messages, max_tokens: 5, temperature: 0, stream: true, stream_options: { include_usage: true } });
    expect(s.events.at(-1).usage.prompt_tokens_details).toEqual({ cached_tokens: n - 1 });
  });

  it('max_tokens defaults to 16 on /v1/completions; a token-id prompt is taken as is', async () => {
    const ids = [0, 40, 41, 42];
    const { json } = await post(base, '/v1/completions', { prompt: ids, temperature: 0 });
    expect(json.choices[0].text).toBe(expected(ids, 16).text);
    expect(json.usage.completion_tokens).toBe(16);
  });

  it('stream: true sends SSE chunks, a final finish_reason, usage on request, then [DONE]', async () => {
    const prompt = 'stream this';
    const ref = expected(encode(prompt, true), 40);
    const r = await postStream(base, '/v1/completions', { prompt, max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true } });
    expect(r.status).toBe(200);
    expect(r.contentType).toMatch(/^text\/event-stream/);
    expect(r.done).toBe(true);
    const usage = r.events.pop();
    expect(usage.choices).toEqual([]);
    expect(usage.usage.completion_tokens).toBe(40);
    const last = r.events.pop();
    expect(last.choices[0]).toEqual({ index: 0, text: '', logprobs: null, finish_reason: 'length' });
    expect(r.events.length).toBeGreaterThan(5);
    for (const e of r.events) {
      expect(e.object).toBe('text_completion');
      expect(e.choices[0].finish_reason).toBeNull();
    }
    expect(r.events.map((e) => e.choices[0].text).join('')).toBe(ref.text);
  });

  it('POST /v1/chat/completions renders the model chat template', async () => {
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: [{ type: 'text', text: 'hello ' }, { type: 'text', text: 'there' }] },
    ];
    const rendered = new Template(chatTemplate).render({
      messages: [messages[0], { role: 'user', content: 'hello there' }],
      add_generation_prompt: true,
      bos_token: '<s>',
      eos_token: '</s>',
    });
    expect(rendered.startsWith('<s><|system|>be brief\n<|user|>hello there\n<|assistant|>')).toBe(true);
    const ref = expected(encode(rendered.slice(3), true), 20);
    const { status, json } = await post(base, '/v1/chat/completions', { messages, max_tokens: 20, temperature: 0 });
    expect(status).toBe(200);
    expect(json.object).toBe('chat.completion');
    expect(json.choices[0]).toEqual({ index: 0, message: { role: 'assistant', content: ref.text }, logprobs: null, finish_reason: 'length' });
    expect(json.usage.prompt_tokens).toBe(encode(rendered.slice(3), true).length);

    const s = await postStream(base, '/v1/chat/completions', { messages, max_tokens: 20, temperature: 0, stream: true });
    expect(s.done).toBe(true);
    expect(s.events[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(s.events.at(-1).choices[0]).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: 'length' });
    expect(s.events.every((e) => e.object === 'chat.completion.chunk')).toBe(true);
    expect(s.events.map((e) => e.choices[0].delta.content ?? '').join('')).toBe(ref.text);
  });

  it('a conversation the template rejects is a 400 carrying the template message', async () => {
    const { status, json } = await post(base, '/v1/chat/completions', { messages: [{ role: 'assistant', content: 'hi' }] });
    expect(status).toBe(400);
    expect(json.error.message).toMatch(/the last message must not be from the assistant/);
  });

  it.each([
    ['malformed JSON', '{"prompt": "x",', /not valid JSON/, null],
    ['a JSON array body', '[1,2]', /must be a JSON object/, null],
    ['temperature of the wrong type', { prompt: 'x', temperature: 'hot' }, /temperature must be a finite number ≥ 0 \(0 = greedy\); got the string "hot"/, 'temperature'],
    ['negative max_tokens', { prompt: 'x', max_tokens: -5 }, /max_tokens must be between 1 and 256; got -5/, 'max_tokens'],
    ['fractional max_tokens', { prompt: 'x', max_tokens: 2.5 }, /max_tokens must be an integer/, 'max_tokens'],
    ['huge max_tokens', { prompt: 'x', max_tokens: 1e9 }, /context holds 256 positions/, 'max_tokens'],
    ['max_tokens past the context with this prompt', { prompt: 'y'.repeat(200), max_tokens: 100 }, /at most 55/, 'max_tokens'],
    ['a prompt longer than the context', { prompt: 'y'.repeat(400), max_tokens: 1 }, /prompt is 401 tokens/, 'prompt'],
    ['several prompts', { prompt: ['a', 'b'] }, /several prompts/, 'prompt'],
    ['n beyond the slots', { prompt: 'x', n: 5 }, /n must be between 1 and 4 \(each choice takes one of the server's 4 parallel slots/, 'n'],
    ['n of 0', { prompt: 'x', n: 0 }, /n must be between 1 and 4/, 'n'],
    ['logprobs beyond 20', { prompt: 'x', logprobs: 21 }, /logprobs must be between 0 and 20; got 21/, 'logprobs'],
    ['logprobs: true (the legacy field is a count)', { prompt: 'x', logprobs: true }, /logprobs must be an integer/, 'logprobs'],
    ['stream not a boolean', { prompt: 'x', stream: 'yes' }, /stream must be true or false/, 'stream'],
    ['bad stop', { prompt: 'x', stop: [1] }, /stop must be a string or an array/, 'stop'],
    ['bad token ids', { prompt: [1, -2] }, /non-negative integer token ids/, 'prompt'],
    // The option table (ts/generate/options.ts) is the API's: same ranges, same words.
    ['an unknown field', { prompt: 'x', temprature: 0 }, /unknown field 'temprature'; this endpoint takes: .*temperature/, 'temprature'],
    ['a negative seed', { prompt: 'x', seed: -1 }, /seed must be an integer in \[0, 2\^53 − 1\]; got number -1/, 'seed'],
    ['a fractional seed', { prompt: 'x', seed: 1.5 }, /seed must be an integer/, 'seed'],
    ['a seed of 2^64', { prompt: 'x', seed: 2 ** 64 }, /seed must be an integer/, 'seed'],
    ['top_k 1e12', { prompt: 'x', top_k: 1e12 }, /top_k must be an integer in \[0, 2147483647\]/, 'top_k'],
    ['an empty stop string', { prompt: 'x', stop: '' }, /stop must be a string or an array .* non-empty/, 'stop'],
    ['repeat_penalty 0', { prompt: 'x', repeat_penalty: 0 }, /repeat_penalty must be a finite number > 0/, 'repeat_penalty'],
  ])('/v1/completions: %s → 400 naming the problem', async (_name, body, message, param) => {
    const { status, json } = await post(base, '/v1/completions', body);
    expect(status).toBe(400);
    expect(json.error.type).toBe('invalid_request_error');
    expect(json.error.message).toMatch(message);
    expect(json.error.param).toBe(param);
  });

  it.each([
    ['no messages', {}, /messages must be a non-empty array/],
    ['a bad role', { messages: [{ role: 'wizard', content: 'x' }] }, /messages\[0\]\.role must be one of/],
    ['content not text', { messages: [{ role: 'user', content: 5 }] }, /messages\[0\]\.content must be a string/],
    ['an image part', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: {} }] }] }, /text only/],
    ['top_logprobs 21', { messages: [{ role: 'user', content: 'x' }], logprobs: true, top_logprobs: 21 }, /top_logprobs must be between 0 and 20; got 21/],
    ['top_logprobs without logprobs', { messages: [{ role: 'user', content: 'x' }], top_logprobs: 2 }, /top_logprobs needs logprobs: true/],
    ['logprobs not a boolean', { messages: [{ role: 'user', content: 'x' }], logprobs: 3 }, /logprobs must be true or false/],
    ['n of 9', { messages: [{ role: 'user', content: 'x' }], n: 9 }, /n must be between 1 and 4/],
  ])('/v1/chat/completions: %s → 400', async (_name, body, message) => {
    const { status, json } = await post(base, '/v1/chat/completions', body);
    expect(status).toBe(400);
    expect(json.error.message).toMatch(message);
  });

  it('n choices and logprobs in both OpenAI shapes, streamed with an index per choice (toy engine: greedy text is known)', async () => {
    const ref = expected(encode('Hi', true), 6);
    const c = await post(base, '/v1/completions', { prompt: 'Hi', max_tokens: 6, temperature: 0, n: 3, logprobs: 2 });
    expect(c.status).toBe(200);
    expect(c.json.choices.map((x: { index: number }) => x.index)).toEqual([0, 1, 2]);
    expect(c.json.usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 18, total_tokens: 21 });
    expect(c.json.usage.prompt_tokens_details.cached_tokens).toBeLessThanOrEqual(2);
    for (const ch of c.json.choices) {
      expect(ch.text).toBe(ref.text);
      const lp = ch.logprobs;
      expect(lp.tokens.join('')).toBe(ref.text);
      expect(lp.token_logprobs).toHaveLength(6);
      expect(lp.text_offset).toEqual(lp.tokens.map((_: string, i: number) => lp.tokens.slice(0, i).join('').length));
      // greedy: each token is the most likely, so it is the first of the alternatives, with its logprob
      lp.top_logprobs.forEach((top: Record<string, number>, i: number) => {
        expect(Object.keys(top)).toHaveLength(2);
        expect(top[lp.tokens[i]]).toBeCloseTo(lp.token_logprobs[i], 10);
      });
    }
    const chat = await post(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, n: 2, logprobs: true, top_logprobs: 3 });
    expect(chat.status).toBe(200);
    expect(chat.json.choices).toHaveLength(2);
    expect(chat.json.choices[1].message.content).toBe(chat.json.choices[0].message.content);
    const content = chat.json.choices[0].logprobs.content;
    expect(content.map((e: { token: string }) => e.token).join('')).toBe(chat.json.choices[0].message.content);
    for (const e of content) {
      expect(Buffer.from(e.bytes).toString()).toBe(e.token);
      expect(e.top_logprobs).toHaveLength(3);
      expect(e.top_logprobs[0]).toEqual({ token: e.token, logprob: e.logprob, bytes: e.bytes });
    }
    // streamed: every choice's deltas carry its index; the logprobs of the deltas add up to the whole reply's
    const s = await postStream(base, '/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0, n: 2, logprobs: true, stream: true, stream_options: { include_usage: true } });
    for (const index of [0, 1]) {
      const mine = s.events.filter((e) => e.choices[0]?.index === index).map((e) => e.choices[0]);
      expect(mine[0].delta.role).toBe('assistant');
      expect(mine.map((x) => x.delta.content ?? '').join('')).toBe(chat.json.choices[0].message.content);
      const streamed = mine.flatMap((x) => x.logprobs?.content ?? []);
      expect(streamed.map((e: { token: string; logprob: number }) => [e.token, e.logprob])).toEqual(content.map((e: { token: string; logprob: number }) => [e.token, e.logprob]));
      expect(mine.at(-1).finish_reason).toBe('length');
    }
    // the same prompt as the request before: choice 0 resumes after all but its last token
    expect(s.events.at(-1).usage).toEqual({ prompt_tokens: chat.json.usage.prompt_tokens, completion_tokens: 8, total_tokens: chat.json.usage.prompt_tokens + 8, prompt_tokens_details: { cached_tokens: chat.json.usage.prompt_tokens - 1 } });
    // legacy completions streamed: per choice, the chunks' tokens spell its text and text_offset runs on across chunks
    const cs = await postStream(base, '/v1/completions', { prompt: 'Hi', max_tokens: 6, temperature: 0, n: 2, logprobs: 1, stream: true });
    for (const index of [0, 1]) {
      const mine = cs.events.filter((e) => e.choices[0]?.index === index).map((e) => e.choices[0]);
      const tokens: string[] = mine.flatMap((x) => x.logprobs?.tokens ?? []);
      const offsets: number[] = mine.flatMap((x) => x.logprobs?.text_offset ?? []);
      expect(mine.map((x) => x.text).join('')).toBe(ref.text);
      expect(tokens.join('')).toBe(ref.text);
      expect(offsets).toEqual(tokens.map((_, i) => tokens.slice(0, i).join('').length));
      expect(mine.at(-1).finish_reason).toBe('length');
    }
  });

  it('a stream request rejected after tokenizing still gets a JSON 400, not an event stream', async () => {
    const res = await fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'y'.repeat(400), stream: true }) });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
  });

  it('a body over the limit is a 413', async () => {
    const { status, json } = await post(base, '/v1/completions', { prompt: 'z'.repeat(5000) });
    expect(status).toBe(413);
    expect(json.error.message).toMatch(/larger than the limit of 4096 bytes/);
    // Chunked (no Content-Length) is counted as it arrives.
    const status2 = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/v1/completions`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('{"prompt":"');
      req.write('q'.repeat(3000));
      req.end('q'.repeat(3000) + '"}');
    });
    expect(status2).toBe(413);
  });

  it('unknown routes are 404 and wrong methods 405 with Allow', async () => {
    const a = await fetch(`${base}/v1/audio/speech`, { method: 'POST', body: '{}' });
    expect(a.status).toBe(404);
    expect(((await a.json()) as { error: { message: string } }).error.message).toMatch(/no route for POST \/v1\/audio\/speech/);
    const b = await fetch(`${base}/v1/completions`);
    expect(b.status).toBe(405);
    expect(b.headers.get('allow')).toBe('POST');
  });

  it('a client that disconnects mid-stream aborts its generation and frees the slot', async () => {
    const slowHandler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 2, engineOptions: { stepMs: 10 } });
    const slow = await listen(slowHandler);
    try {
      const s = await openStream(slow.base, '/v1/completions', { prompt: 'cut me off', max_tokens: 240, stream: true });
      expect(s.first).toMatch(/^data: /);
      const busy = async (): Promise<number> => ((await (await fetch(`${slow.base}/health`)).json()) as { slots: { busy: number } }).slots.busy;
      await waitFor(async () => (await busy()) === 1);
      s.destroy();
      // 240 tokens at 10 ms a step would hold the slot for 2.4 s; the abort frees it at the next step.
      await waitFor(async () => (await busy()) === 0 && slowHandler.scheduler.stats().outstanding === 0, 1500);
      const after = await post(slow.base, '/v1/completions', { prompt: 'next', max_tokens: 5, temperature: 0 });
      expect(after.json.choices[0].text).toBe(expected(encode('next', true), 5).text);
    } finally {
      slow.server.close();
      await slowHandler.close();
    }
  });

  it('when slots and queue are full, a request gets 429 with Retry-After', async () => {
    const tight = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1, maxQueued: 1, engineOptions: { stepMs: 10 } });
    const t = await listen(tight);
    try {
      const a = await openStream(t.base, '/v1/completions', { prompt: 'one', max_tokens: 200, stream: true });
      const b = post(t.base, '/v1/completions', { prompt: 'two', max_tokens: 3 }); // waits in the queue
      await waitFor(() => tight.scheduler.stats().outstanding === 2);
      const c = await post(t.base, '/v1/completions', { prompt: 'three', max_tokens: 3 });
      expect(c.status).toBe(429);
      expect(Number(c.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(c.json.error.code).toBe('queue_full');
      a.destroy();
      expect((await b).status).toBe(200);
    } finally {
      t.server.close();
      await tight.close();
    }
  });
});

describe('embedding the handler in an existing app', () => {
  it('works under a path prefix with a body a framework already parsed (express.json() style)', async () => {
    const handler = await createServer({ model: 'toy', engineModule: toyEngine, parallel: 1 });
    // A stand-in for `app.use('/llm', express.json(), handler)`: strip the mount path, pre-parse the body.
    const app = await listen((req, res) => {
      if (!req.url?.startsWith('/llm/')) {
        res.writeHead(200).end('the app');
        return;
      }
      req.url = req.url.slice(4);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        (req as typeof req & { body: unknown }).body = JSON.parse(Buffer.concat(chunks).toString());
        handler(req, res);
      });
    });
    try {
      const { status, json } = await post(app.base, '/llm/v1/completions', { prompt: 'mounted', max_tokens: 8, temperature: 0 });
      expect(status).toBe(200);
      expect(json.choices[0].text).toBe(expected(encode('mounted', true), 8).text);
      expect(await (await fetch(`${app.base}/other`)).text()).toBe('the app');
    } finally {
      app.server.close();
      await handler.close();
    }
  });
});
