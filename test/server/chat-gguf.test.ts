/**
 * The chat endpoint on a real GGUF that carries `tokenizer.chat_template`: stories260K's
 * reference-written GGUF re-written with our GGUF writer plus a template. The reply must be what
 * the models' own single-sequence generation gives for the template rendered independently
 * (@huggingface/jinja called here); the same model without a template answers chat with 400.
 */
import { Template } from '@huggingface/jinja';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelToGGUF } from '../../ts/models/convert.js';
import { writeGGUF } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel } from '../../ts/generate/index.js';
import { createServer, type ServeHandler } from '../../ts/server/http.js';
import { storiesDir } from '../formats/helpers.js';
import { listen, post, postStream } from './helpers.js';

const base = join(storiesDir, 'stories260K-f32.gguf');
const TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}Question: {{ m.content }}\n{% elif m.role == 'assistant' %}Answer: {{ m.content }}\n" +
  '{% else %}{{ m.content }}\n{% endif %}{% endfor %}{% if add_generation_prompt %}Answer:{% endif %}';

describe.skipIf(!existsSync(base))('chat template from a GGUF (skipped: ../shared/models/stories260K is absent)', () => {
  let dir: string;
  let chatModel: string;
  let handler: ServeHandler;
  let plain: ServeHandler;
  let server: Server;
  let plainServer: Server;
  let url: string;
  let plainUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-serve-chat-'));
    chatModel = join(dir, 'chat.gguf');
    const src = openModelFile(base);
    try {
      const input = modelToGGUF(src);
      writeGGUF(chatModel, { ...input, metadata: [...input.metadata, ['tokenizer.chat_template', TEMPLATE]] });
    } finally {
      src.close();
    }
    handler = await createServer({ model: chatModel, parallel: 2 });
    plain = await createServer({ model: base, parallel: 1 });
    ({ server, base: url } = await listen(handler));
    ({ server: plainServer, base: plainUrl } = await listen(plain));
  });
  afterAll(async () => {
    server?.close();
    plainServer?.close();
    await handler?.close();
    await plain?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders the GGUF template and answers what single-sequence generation gives for it', async () => {
    const messages = [
      { role: 'system', content: 'A story for children.' },
      { role: 'user', content: 'Where did Lily go?' },
    ];
    const tokens = openModelFile(chatModel);
    const bos = (tokens.gguf!.metadata.get('tokenizer.ggml.tokens') as string[])[1]!;
    tokens.close();
    expect(bos).toBe('<s>');
    const rendered = new Template(TEMPLATE).render({ messages, add_generation_prompt: true, bos_token: bos, eos_token: '</s>' });
    expect(rendered).toBe('<s>A story for children.\nQuestion: Where did Lily go?\nAnswer:');
    const single = await loadModel(chatModel, { worker: false });
    const want = await single.generate(rendered.slice(bos.length), { temperature: 0, maxTokens: 24 });
    await single.dispose();

    const { status, json } = await post(url, '/v1/chat/completions', { messages, temperature: 0, max_tokens: 24 });
    expect(status).toBe(200);
    expect(json.choices[0].message).toEqual({ role: 'assistant', content: want.text });
    expect(json.usage.prompt_tokens).toBe(want.usage.promptTokens);

    const s = await postStream(url, '/v1/chat/completions', { messages, temperature: 0, max_tokens: 24, stream: true });
    expect(s.events.map((e) => e.choices[0].delta.content ?? '').join('')).toBe(want.text);
  });

  it('createServer also takes a loadModel() result and serves the same files', async () => {
    const loaded = await loadModel(chatModel, { worker: false });
    const fromModel = await createServer({ model: loaded, parallel: 1 });
    const l = await listen(fromModel);
    try {
      const body = { prompt: 'Once upon a time', max_tokens: 12, temperature: 0 };
      const a = await post(l.base, '/v1/completions', body);
      const b = await post(url, '/v1/completions', body);
      expect(a.status).toBe(200);
      expect(a.json.choices[0].text).toBe(b.json.choices[0].text);
      expect(a.json.choices[0].text).toBe((await loaded.generate('Once upon a time', { temperature: 0, maxTokens: 12 })).text);
    } finally {
      l.server.close();
      await fromModel.close();
      await loaded.dispose();
    }
  });

  it('reports the model under its file name', async () => {
    const body = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(body.data[0]!.id).toBe('chat');
  });

  it('a model without a chat template answers chat with a clear 400', async () => {
    const { status, json } = await post(plainUrl, '/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }] });
    expect(status).toBe(400);
    expect(json.error.message).toMatch(/has no chat template/);
    // Completions still work on it.
    expect((await post(plainUrl, '/v1/completions', { prompt: 'Once', max_tokens: 4 })).status).toBe(200);
  });
});
