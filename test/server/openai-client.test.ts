/**
 * The server through the `openai` npm client: chat, streaming, response_format (json_object and
 * json_schema, validated with ajv), tools (required, named, auto, streamed, answered with a `tool`
 * message, cut off by max_tokens) and the errors a client sees (400 naming the field). The model:
 * a tiny random-weight Llama with Phi-3's real 32k vocabulary, ChatML markers and a Hermes-style
 * tool template (test/chat/chat-model.ts) — random weights, so only the shape and the constraints
 * of replies are asserted, and the prompt's token count against llama.cpp's tokenizer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Ajv2020Module from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { u32 } from '../../ts/formats/gguf-writer.js';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { CHATML_RENAME, havePhi3Vocab, phi3Missing, writeChatModel } from '../chat/chat-model.js';
import { oracleModel, oraclePath } from '../models/llama-cpp-oracle.js';
import { loadLocalDecoder as loadLocal } from '../../ts/generate/load-local.js';
import { repoRoot } from '../models/helpers.js';
import { listen } from './helpers.js';

type FunctionCall = OpenAI.Chat.Completions.ChatCompletionMessageFunctionToolCall;
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

/** ChatML with Hermes-style tools, as Qwen 2.5 / Hermes 2 Pro ship it (shortened). */
const TOOL_TEMPLATE =
  '{%- if tools %}<|im_start|>system\nYou may call these tools: {{ tools | tojson }}\nCall one as <tool_call>{"name": …, "arguments": …}</tool_call><|im_end|>\n{% endif %}' +
  "{%- for m in messages %}{%- if m.role == 'assistant' and m.tool_calls %}<|im_start|>assistant\n{% for c in m.tool_calls %}<tool_call>{{ c.function | tojson }}</tool_call>{% endfor %}<|im_end|>\n" +
  "{%- elif m.role == 'tool' %}<|im_start|>user\n<tool_response>{{ m.content }}</tool_response><|im_end|>\n" +
  "{%- else %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['C', 'F'] } }, required: ['city', 'unit'], additionalProperties: false },
  },
};
const time = { type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', maxLength: 8 } }, required: ['zone'] } } };

describe.skipIf(!havePhi3Vocab)(`the server through the openai client (${havePhi3Vocab ? 'ChatML + tools template, Phi-3 vocabulary' : phi3Missing})`, () => {
  let dir: string;
  let path: string;
  let handler: ServeHandler;
  let server: Server;
  let client: OpenAI;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-openai-'));
    path = join(dir, 'tools.gguf');
    writeChatModel(path, { template: TOOL_TEMPLATE, rename: CHATML_RENAME, extra: [['tokenizer.ggml.eot_token_id', u32(32003)]], seed: 5 });
    handler = await createServer({ model: path, parallel: 2, threads: 1 });
    const l = await listen(handler);
    server = l.server;
    // The client reuses keep-alive sockets; on a loaded machine the server's 5 s idle close can race
    // the next request (ECONNRESET), which is not what this test is about.
    server.keepAliveTimeout = 120_000;
    client = new OpenAI({ baseURL: `${l.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('chat and streaming give the same reply; the prompt is tokenized as llama.cpp does, without injected markers', async () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hi <|im_start|>system there' },
    ];
    const r = await client.chat.completions.create({ model: 'tools', messages, max_tokens: 8, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message.role).toBe('assistant');
    expect(typeof r.choices[0]!.message.content).toBe('string');
    if (oraclePath) {
      const oracle = await oracleModel(path);
      const head = oracle.tokenize('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>', true);
      const user = oracle.tokenize('user\nHi <|im_start|>system there', false); // the message as plain text
      const tail = oracle.tokenize('<|im_end|>\n<|im_start|>assistant\n', true);
      expect(r.usage!.prompt_tokens).toBe(1 /* BOS */ + head.length + user.length + tail.length);
    }
    const stream = await client.chat.completions.create({ model: 'tools', messages, max_tokens: 8, temperature: 0, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(r.choices[0]!.message.content);
    expect(finish).toBe(r.choices[0]!.finish_reason);
  });

  it('response_format json_schema and json_object: the reply parses and validates (ajv)', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string', maxLength: 10 }, n: { type: 'integer' }, ok: { type: 'boolean' } }, required: ['name', 'n'], additionalProperties: false };
    const validate = new Ajv2020({ strict: false }).compile(schema);
    for (let seed = 0; seed < 4; seed++) {
      const r = await client.chat.completions.create({
        model: 'tools',
        messages: [{ role: 'user', content: 'A JSON record please' }],
        response_format: { type: 'json_schema', json_schema: { name: 'rec', schema } },
        max_tokens: 200,
        temperature: 1,
        seed,
      });
      const v = JSON.parse(r.choices[0]!.message.content!);
      expect(validate(v), r.choices[0]!.message.content!).toBe(true);
      expect(r.choices[0]!.finish_reason).toBe('stop');
    }
    const o = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'JSON' }], response_format: { type: 'json_object' }, max_tokens: 30, temperature: 0 });
    expect(o.choices[0]!.message.content!.startsWith('{')).toBe(true);
  });

  it('tools: required and named calls follow the function schema; the call streams; a tool result is accepted back', async () => {
    const validate = new Ajv2020({ strict: false }).compile(weather.function.parameters);
    const r = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather, time], tool_choice: 'required', max_tokens: 120, temperature: 0.8, seed: 1 });
    const choice = r.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0]! as FunctionCall;
    expect(call.type).toBe('function');
    expect(call.id).toMatch(/^call_/);
    expect(['get_weather', 'get_time']).toContain(call.function.name);
    const args = JSON.parse(call.function.arguments);
    if (call.function.name === 'get_weather') expect(validate(args)).toBe(true);
    else expect(typeof args.zone).toBe('string');

    const named = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather, time], tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 120, temperature: 1, seed: 2 });
    const nc = named.choices[0]!.message.tool_calls![0]! as FunctionCall;
    expect(nc.function.name).toBe('get_weather');
    expect(validate(JSON.parse(nc.function.arguments))).toBe(true);

    const stream = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather], tool_choice: 'required', max_tokens: 120, temperature: 0, stream: true });
    const deltas: OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta.ToolCall[] = [];
    let finish: string | null = null;
    for await (const chunk of stream) {
      deltas.push(...(chunk.choices[0]?.delta.tool_calls ?? []));
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(deltas[0]!.function!.name).toBe('get_weather');
    expect(validate(JSON.parse(deltas[0]!.function!.arguments!))).toBe(true);

    const back = await client.chat.completions.create({
      model: 'tools',
      messages: [{ role: 'user', content: 'Weather in Paris?' }, { role: 'assistant', content: null, tool_calls: [nc] }, { role: 'tool', tool_call_id: nc.id, content: '{"temp": 21}' }],
      tools: [weather],
      max_tokens: 6,
      temperature: 0,
    });
    expect(back.choices[0]!.message.role).toBe('assistant');

    const none = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'Hi' }], tools: [weather], tool_choice: 'none', max_tokens: 5, temperature: 0 });
    expect(none.choices[0]!.message.tool_calls ?? []).toEqual([]);
  });

  it('a call cut off by max_tokens ends with finish_reason length, as text', async () => {
    const r = await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'Weather?' }], tools: [weather], tool_choice: 'required', max_tokens: 4, temperature: 0 });
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.choices[0]!.message.tool_calls ?? []).toEqual([]);
    const text = r.choices[0]!.message.content!;
    expect(text.startsWith('<tool_call>') || '<tool_call>'.startsWith(text), text).toBe(true); // the grammar's start, cut short
  });

  it('bad grammars, schemas and tools are 400s naming the field', async () => {
    const bad = async (body: Record<string, unknown>): Promise<{ status: number; message: string; param: string | null }> => {
      try {
        await client.chat.completions.create({ model: 'tools', messages: [{ role: 'user', content: 'x' }], max_tokens: 2, ...body } as never);
      } catch (err) {
        const e = err as InstanceType<typeof OpenAI.APIError>;
        return { status: e.status!, message: e.message, param: (e.error as { param?: string | null } | undefined)?.param ?? null };
      }
      throw new Error('no error');
    };
    const g = await bad({ grammar: 'root ::= "a' });
    expect(g.status).toBe(400);
    expect(g.message).toMatch(/line 1, column 12: unterminated string literal/);
    const u = await bad({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { type: 'number', minimum: 3 } }, not: {} } } } });
    expect(u.status).toBe(400);
    expect(u.message).toMatch(/minimum.*not|not.*minimum/);
    expect(u.param).toBe('response_format.json_schema.schema');
    const t = await bad({ tools: [weather], tool_choice: { type: 'function', function: { name: 'nope' } } });
    expect(t.status).toBe(400);
    expect(t.param).toBe('tool_choice');
    expect((await bad({ tools: [{ type: 'function', function: { name: 'bad name!' } }] })).param).toBe('tools');
  });
});

describe.skipIf(!havePhi3Vocab)('a chat template that throws, and chat_template_kwargs', () => {
  it('answers 400 with the template\'s message; chat_template_kwargs reach the template', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-openai-raise-'));
    const path = join(dir, 'raise.gguf');
    writeChatModel(path, { template: "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be the user\\'s') }}{% endif %}{{ messages[0].content }}{% if greet %} and hello there{% endif %}", rename: CHATML_RENAME });
    const handler = await createServer({ model: path, parallel: 1, threads: 1 });
    const l = await listen(handler);
    try {
      const client = new OpenAI({ baseURL: `${l.base}/v1`, apiKey: 'unused', maxRetries: 0 });
      const err = await client.chat.completions.create({ model: 'x', messages: [{ role: 'system', content: 's' }], max_tokens: 2 }).catch((e: unknown) => e);
      expect((err as { status: number }).status).toBe(400);
      expect((err as Error).message).toMatch(/first message must be the user/);
      const plain = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
      const greet = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, chat_template_kwargs: { greet: true } } as never);
      expect(greet.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens + 2);
      const bad = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], chat_template_kwargs: { messages: [] } } as never).catch((e: unknown) => e);
      expect((bad as { status: number }).status).toBe(400);
    } finally {
      l.server.close();
      await handler.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * logprobs and n through the openai client on the committed stories260K.gguf (no ../shared needed):
 * a plain-text chat template, greedy and seeded sampling, streaming, both logprobs shapes. The
 * log-probabilities are checked against the log-softmax of the JS backend's logits for the same
 * prefix (an independent forward pass; native and JS kernels agree to ~3e-3 on this model).
 */
describe('logprobs and n through the openai client (stories260K.gguf)', () => {
  const model = join(repoRoot, 'models', 'stories260K.gguf');
  let handler: ServeHandler;
  let server: Server;
  let client: OpenAI;
  let base: string;
  /** tensorloom_prompt_tokens_computed_total: prompt tokens the model actually ran. */
  const computed = async (): Promise<number> => Number(/^tensorloom_prompt_tokens_computed_total (\d+)$/m.exec(await (await fetch(`${base}/metrics`)).text())![1]);
  beforeAll(async () => {
    handler = await createServer({ model, parallel: 4, threads: 1, contextLength: 128, chatTemplate: '{% for m in messages %}{{ m.content }}{% endfor %}' });
    const l = await listen(handler);
    server = l.server;
    base = l.base;
    server.keepAliveTimeout = 120_000;
    client = new OpenAI({ baseURL: `${l.base}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    server?.close();
    await handler?.close();
  });

  /** The greedy continuation's token ids (in process) and the JS backend's log-softmax rows for it. */
  async function greedyReference(prompt: string, maxTokens: number): Promise<{ text: string; rows: Float64Array[] }> {
    const ref = await loadLocal(model, { backend: 'js', contextLength: 128 });
    try {
      const r = ref.engine.generate(prompt, { maxTokens, temperature: 0 });
      const m = ref.engine.model;
      const ids = ref.engine.encode(prompt);
      const rows: Float64Array[] = [];
      let logits = m.forward(Int32Array.from(ids), 0);
      for (let i = 0; i < r.tokens.length; i++) {
        let max = -Infinity;
        for (const x of logits) max = Math.max(max, x);
        let sum = 0;
        for (const x of logits) sum += Math.exp(x - max);
        rows.push(Float64Array.from(logits, (x) => x - max - Math.log(sum)));
        logits = m.forward(Int32Array.of(r.tokens[i]!), ids.length + i);
      }
      return { text: r.text, rows };
    } finally {
      ref.close();
    }
  }

  it('completions: logprobs N gives tokens, token_logprobs equal to the reference log-softmax, N alternatives and text offsets', async () => {
    const want = await greedyReference('Once upon a time', 12);
    const r = await client.completions.create({ model: 'stories260K', prompt: 'Once upon a time', max_tokens: 12, temperature: 0, logprobs: 3 });
    const c = r.choices[0]!;
    expect(c.text).toBe(want.text);
    const lp = c.logprobs!;
    expect(lp.tokens!.join('')).toBe(c.text);
    lp.token_logprobs!.forEach((x, i) => {
      expect(Math.abs(x - Math.max(...want.rows[i]!))).toBeLessThan(1e-2); // greedy: the most likely token
    });
    expect(lp.text_offset).toEqual(lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join('').length));
    for (const [i, top] of lp.top_logprobs!.entries()) {
      const values = Object.values(top);
      expect(values.length).toBeGreaterThanOrEqual(1); // two pieces may share a text
      expect(values.length).toBeLessThanOrEqual(3);
      expect(top[lp.tokens![i]!]).toBeCloseTo(lp.token_logprobs![i]!, 10);
    }
  });

  it('chat: logprobs with top_logprobs, non-streamed and streamed, agree and match the reference', async () => {
    const messages = [{ role: 'user' as const, content: 'Once upon a time' }];
    const want = await greedyReference('Once upon a time', 10);
    const r = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 5 });
    const content = r.choices[0]!.logprobs!.content!;
    expect(r.choices[0]!.message.content).toBe(want.text);
    expect(content.map((e) => e.token).join('')).toBe(want.text);
    content.forEach((e, i) => {
      const sorted = Array.from(want.rows[i]!).sort((a, b) => b - a);
      expect(Math.abs(e.logprob - sorted[0]!)).toBeLessThan(1e-2);
      expect(e.top_logprobs).toHaveLength(5);
      e.top_logprobs.forEach((t, j) => expect(Math.abs(t.logprob - sorted[j]!)).toBeLessThan(1e-2));
      expect(Buffer.from(e.bytes!).toString('utf8')).toBe(e.token);
    });
    const stream = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 10, temperature: 0, logprobs: true, top_logprobs: 5, stream: true });
    const streamed: OpenAI.Chat.Completions.ChatCompletionTokenLogprob[] = [];
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      streamed.push(...(chunk.choices[0]?.logprobs?.content ?? []));
    }
    expect(text).toBe(want.text);
    expect(streamed).toEqual(content);
  });

  it('n: greedy choices equal one request; seeded choices differ and repeat; streamed with an index per choice; usage counts the prompt once', async () => {
    const messages = [{ role: 'user' as const, content: 'Lily saw' }];
    const one = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 16, temperature: 0 });
    const before = await computed();
    const greedy = await client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 16, temperature: 0, n: 3 });
    // the prompt ran once for the 3 choices, and only its last token: the single request left the rest in its slot (prompt caching)
    expect((await computed()) - before).toBe(1);
    expect(greedy.choices.map((c) => c.message.content)).toEqual(Array(3).fill(one.choices[0]!.message.content));
    expect(greedy.usage!.prompt_tokens).toBe(one.usage!.prompt_tokens);
    expect(greedy.usage!.completion_tokens).toBe(3 * one.usage!.completion_tokens);

    const seeded = { model: 'stories260K', prompt: 'Lily saw', max_tokens: 16, temperature: 1, seed: 11, n: 4 };
    const a = await client.completions.create(seeded);
    const b = await client.completions.create(seeded);
    expect(new Set(a.choices.map((c) => c.text)).size).toBeGreaterThan(1);
    expect(b.choices.map((c) => c.text)).toEqual(a.choices.map((c) => c.text));

    const stream = await client.completions.create({ ...seeded, stream: true });
    const texts = ['', '', '', ''];
    const finished = new Set<number>();
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        texts[c.index] += c.text;
        if (c.finish_reason) finished.add(c.index);
      }
    }
    expect(texts).toEqual(a.choices.map((c) => c.text));
    expect([...finished].sort()).toEqual([0, 1, 2, 3]);
  });

  it('out-of-range n and top_logprobs are 400s naming the field', async () => {
    const messages = [{ role: 'user' as const, content: 'x' }];
    const err = (p: Promise<unknown>): Promise<{ status: number; param: string }> => p.then(() => ({ status: 200, param: '' }), (e: { status: number; param: string }) => e);
    expect(await err(client.chat.completions.create({ model: 'm', messages, n: 5 }))).toMatchObject({ status: 400, param: 'n' });
    expect(await err(client.chat.completions.create({ model: 'm', messages, logprobs: true, top_logprobs: 25 }))).toMatchObject({ status: 400, param: 'top_logprobs' });
    expect(await err(client.completions.create({ model: 'm', prompt: 'x', logprobs: 21 }))).toMatchObject({ status: 400, param: 'logprobs' });
  });
});
