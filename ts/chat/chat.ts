/**
 * Chat on a loaded model: render the conversation with the model's template (ts/chat/template.ts),
 * generate, and return the reply as an assistant message. Used by `Model.chat`, `Model.chatStream`
 * and ChatSession; the model's worker sees only a rendered prompt.
 */
import type { GenerationStream } from '../generate/model.js';
import type { ModelInfo } from '../generate/info.js';
import type { GenerateOptions, GenerateResult, Prompt } from '../generate/types.js';
import { ChatTemplate, type RenderOptions } from './template.js';
import type { ChatMessage, TemplatedText, ToolDefinition } from './types.js';

export interface ChatOptions extends GenerateOptions {
  /** Tool definitions the template shows the model. */
  tools?: readonly ToolDefinition[];
  /** Jinja source used instead of the model's own template. */
  chatTemplate?: string;
  /** More variables for the template (e.g. `{ enable_thinking: false }`). */
  templateVariables?: Readonly<Record<string, unknown>>;
}

export interface AssistantMessage extends ChatMessage {
  role: 'assistant';
  content: string | null;
}

export interface ChatResult extends GenerateResult {
  /** The reply, ready to append to the conversation. */
  message: AssistantMessage;
}

/** Text chunks of the reply as they come; `result` resolves with the whole reply. */
export interface ChatStream extends AsyncIterable<string> {
  readonly result: Promise<ChatResult>;
}

/** What chat needs from a model (Model implements it). */
export interface ChatModel {
  readonly info: Pick<ModelInfo, 'chat'>;
  generate(prompt: Prompt, options?: GenerateOptions): Promise<GenerateResult>;
  stream(prompt: Prompt, options?: GenerateOptions): GenerationStream;
}

const templates = new Map<string, ChatTemplate>();

/** The model's template (or `override`), parsed once per source. */
export function chatTemplateFor(info: Pick<ModelInfo, 'chat'>, override?: string): ChatTemplate {
  const source = override ?? info.chat.template;
  if (source === null || source === undefined) {
    throw new Error("tensorloom: this model has no chat template (GGUF tokenizer.chat_template or tokenizer_config.json chat_template); pass { chatTemplate } or use generate()");
  }
  const key = `${info.chat.bosToken ?? ''}\u0000${info.chat.eosToken ?? ''}\u0000${info.chat.controlTokens.length}\u0000${source}`;
  let t = templates.get(key);
  if (!t) {
    t = new ChatTemplate(source, {
      ...(info.chat.bosToken !== undefined ? { bosToken: info.chat.bosToken } : {}),
      ...(info.chat.eosToken !== undefined ? { eosToken: info.chat.eosToken } : {}),
      controlTokens: info.chat.controlTokens,
    });
    if (templates.size > 32) templates.clear();
    templates.set(key, t);
  }
  return t;
}

/** The prompt for `messages`, as chat() would feed it. */
export function renderChat(info: Pick<ModelInfo, 'chat'>, messages: readonly ChatMessage[], options: ChatOptions = {}): TemplatedText {
  checkMessages(messages);
  const render: RenderOptions = {
    ...(options.tools ? { tools: options.tools } : {}),
    ...(options.templateVariables ? { extra: options.templateVariables } : {}),
  };
  return chatTemplateFor(info, options.chatTemplate).render(messages, render);
}

export async function chat(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
  const prompt = renderChat(model.info, messages, options);
  const r = await model.generate(prompt, generateOptions(options));
  return toChatResult(r);
}

export function chatStream(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): ChatStream {
  let prompt: TemplatedText;
  try {
    prompt = renderChat(model.info, messages, options);
  } catch (err) {
    const failed = Promise.reject(err as Error);
    failed.catch(() => undefined);
    return {
      result: failed,
      async *[Symbol.asyncIterator]() {
        await failed;
      },
    };
  }
  const s = model.stream(prompt, generateOptions(options));
  const result = s.result.then(toChatResult);
  result.catch(() => undefined);
  return { result, [Symbol.asyncIterator]: () => s[Symbol.asyncIterator]() };
}

export function toChatResult(r: GenerateResult): ChatResult {
  return { ...r, message: { role: 'assistant', content: r.text } };
}

function generateOptions(o: ChatOptions): GenerateOptions {
  const { tools: _t, chatTemplate: _c, templateVariables: _v, ...rest } = o;
  return rest;
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError('tensorloom: chat needs an array of messages ({ role, content })');
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string') throw new TypeError(`tensorloom: messages[${i}] must be an object with a string role`);
    if (m.content !== null && typeof m.content !== 'string') throw new TypeError(`tensorloom: messages[${i}].content must be a string (or null for an assistant turn with tool_calls)`);
  });
}
