/**
 * model.chat and ChatSession on a GGUF with a ChatML template and a real vocabulary (random
 * weights): the reply must be llama.cpp's greedy continuation of the same prompt ids (stopping at
 * the same end-of-generation tokens), later turns reuse the KV prefix, streaming and `await using`
 * work, and a model without a template says so.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatSession, renderChat } from '../../ts/chat/index.js';
import { u32 } from '../../ts/formats/gguf-writer.js';
import { loadModel, type Model } from '../../ts/generate/index.js';
import { oracleGreedy, oracleMissing, oracleModel, oraclePath } from '../models/llama-cpp-oracle.js';
import { storiesDir } from '../formats/helpers.js';
import { CHATML, CHATML_RENAME, havePhi3Vocab, phi3Missing, writeChatModel } from './chat-model.js';

describe.skipIf(!havePhi3Vocab)(`model.chat and ChatSession (${havePhi3Vocab ? 'ChatML on the Phi-3 vocabulary' : phi3Missing})`, () => {
  let dir: string;
  let path: string;
  let model: Model;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tl-chat-session-'));
    path = join(dir, 'chatml.gguf');
    writeChatModel(path, { template: CHATML, rename: CHATML_RENAME, extra: [['tokenizer.ggml.eot_token_id', u32(32003)]], seed: 3 });
    model = await loadModel(path, { threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the end-of-turn token from the GGUF ends generation', () => {
    expect(model.info.tokenizer.eosIds).toContain(32003); // <|im_end|>, the GGUF's eot_token_id
    expect(model.info.tokenizer.eosIds).toContain(32000); // <|endoftext|>, its eos_token_id
    expect(model.info.chat.template).toBe(CHATML);
  });

  it.skipIf(!oraclePath)(`chat() answers llama.cpp's greedy continuation of the same prompt ${oraclePath ? '' : oracleMissing}`, async () => {
    const messages = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Say something <|im_start|> odd.' },
    ];
    const r = await model.chat(messages, { temperature: 0, maxTokens: 12 });
    const prompt = renderChat(model.info, messages);
    const oracle = await oracleModel(path);
    const ids = oracle.tokenize(prompt.text.replace('<|im_start|> odd', ''), true); // sanity: markers parse as control tokens
    expect(ids.filter((t) => t === 32002).length).toBe(3);
    const promptIds = await model.encode(prompt.text, { addBos: true }); // as plain text: no control tokens at all
    expect(promptIds.includes(32002)).toBe(false);
    expect(r.usage.promptTokens).toBeLessThan(promptIds.length); // markers are single tokens in the chat prompt
    const { tokens } = await oracleGreedy(path, await chatIds(model, messages), 12, { contextSize: 128 });
    expect(r.tokens).toEqual(tokens);
    expect(r.message).toEqual({ role: 'assistant', content: r.text });
  });

  it('a session keeps the history, reuses the KV prefix across turns, streams, and disposes with await using', async () => {
    let history;
    {
      await using session = new ChatSession(model, { systemPrompt: 'Be brief.', temperature: 0, maxTokens: 6 });
      const first = await session.send('Hello');
      expect(session.history.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
      const chunks: string[] = [];
      const s = session.stream('And then?');
      for await (const c of s) chunks.push(c);
      const second = await s.result;
      expect(chunks.join('')).toBe(second.text);
      // the second prompt starts with the first prompt and reply, still in the cache
      expect(second.usage.cachedPromptTokens).toBeGreaterThanOrEqual(first.usage.promptTokens);
      expect(session.history.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
      expect(session.history[4]!.content).toBe(second.text);
      // the same conversation in one call gives the same reply
      const direct = await model.chat(session.history.slice(0, 4), { temperature: 0, maxTokens: 6 });
      expect(direct.text).toBe(second.text);
      history = session;
    }
    await expect(history.send('again')).rejects.toThrow(/disposed/);
  });

  it('chat with tools: a required call follows the schema and is returned as tool_calls; the answer to it is accepted', async () => {
    const tool = { type: 'function' as const, function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'], additionalProperties: false } } };
    const r = await model.chat([{ role: 'user', content: 'What is 2+3?' }], { tools: [tool], toolChoice: 'required', temperature: 0, maxTokens: 80 });
    expect(r.finishReason).toBe('tool_calls');
    expect(r.message.content).toBeNull();
    const call = r.message.tool_calls![0]!;
    expect(call.function.name).toBe('add');
    const args = JSON.parse(call.function.arguments);
    expect(Object.keys(args)).toEqual(['a', 'b']);
    expect(Number.isInteger(args.a) && Number.isInteger(args.b)).toBe(true);
    const next = await model.chat([{ role: 'user', content: 'What is 2+3?' }, r.message, { role: 'tool', tool_call_id: call.id, content: '5' }], { tools: [tool], temperature: 0, maxTokens: 4 });
    expect(next.message.role).toBe('assistant');
  });

  it('an aborted streamed turn leaves the history unchanged', async () => {
    const session = new ChatSession(model, { temperature: 0, maxTokens: 50 });
    const ac = new AbortController();
    const s = session.stream('Hi', { signal: ac.signal });
    ac.abort();
    await expect(s.result).rejects.toThrow(/abort/);
    expect(session.history).toEqual([]);
  });
});

async function chatIds(model: Model, messages: { role: string; content: string }[]): Promise<number[]> {
  // Ids the engine feeds for a chat prompt.
  return model.encode(renderChat(model.info, messages));
}

describe('chat without a template', () => {
  const stories = join(storiesDir, 'stories260K-f32.gguf');
  it.skipIf(!havePhi3Vocab)('says the model has no chat template', async () => {
    const m = await loadModel(stories, { worker: false });
    try {
      await expect(m.chat([{ role: 'user', content: 'hi' }])).rejects.toThrow(/no chat template/);
      const r = await m.chat([{ role: 'user', content: 'hi' }], { chatTemplate: '{{ bos_token }}Q: {{ messages[0].content }}\nA:', maxTokens: 3, temperature: 0 });
      expect(r.usage.promptTokens).toBe((await m.encode('Q: hi\nA:')).length);
    } finally {
      await m.dispose();
    }
  });
});
