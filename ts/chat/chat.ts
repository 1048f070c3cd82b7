/**
 * Chat on a loaded model: render the conversation with the model's template (ts/chat/template.ts),
 * generate, and return the reply as an assistant message. Used by `Model.chat`, `Model.chatStream`
 * and ChatSession; the model's worker sees only a rendered prompt.
 */
import type { GenerationStream } from '../generate/model.js';
import type { ModelInfo } from '../generate/info.js';
import type { GenerateOptions, GenerateResult, Prompt } from '../generate/types.js';
import { ChatTemplate, type RenderOptions } from './template.js';
import { checkTools, parseToolCalls, planTools, type ToolChoice, type ToolPlan } from './tools.js';
import type { ChatMessage, TemplatedText, ToolDefinition } from './types.js';

export interface ChatOptions extends GenerateOptions {
  /** Functions the model may call (OpenAI's shape); the template shows them to the model. */
  tools?: readonly ToolDefinition[];
  /** auto (default with tools): the model chooses; required: it must call one; a named function: that one; none: no calls. */
  toolChoice?: ToolChoice;
  /** Jinja source used instead of the model's own template. */
  chatTemplate?: string;
  /** More variables for the template (e.g. `{ enable_thinking: false }`). */
  templateVariables?: Readonly<Record<string, unknown>>;
}

export interface AssistantMessage extends ChatMessage {
  role: 'assistant';
  content: string | null;
}

export interface ChatResult extends Omit<GenerateResult, 'finishReason'> {
  /** The reply, ready to append to the conversation (with `tool_calls` when the model called functions). */
  message: AssistantMessage;
  /** 'tool_calls' when the reply is function calls. */
  finishReason: GenerateResult['finishReason'] | 'tool_calls';
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
  return prepareChat(info, messages, options).prompt;
}

interface Prepared {
  prompt: TemplatedText;
  generate: GenerateOptions;
  tools: ToolPlan | null;
}

function prepareChat(info: Pick<ModelInfo, 'chat'>, messages: readonly ChatMessage[], options: ChatOptions): Prepared {
  checkMessages(messages);
  const template = chatTemplateFor(info, options.chatTemplate);
  let plan: ToolPlan | null = null;
  if (options.tools !== undefined || options.toolChoice !== undefined) {
    const { tools, choice } = checkTools(options.tools ?? [], options.toolChoice);
    plan = planTools(template.source, messages, tools, choice);
  }
  const render: RenderOptions = {
    ...(plan?.tools ? { tools: plan.tools } : {}),
    ...(options.templateVariables ? { extra: options.templateVariables } : {}),
  };
  const prompt = template.render(plan ? plan.messages : messages, render);
  const { tools: _t, toolChoice: _c, chatTemplate: _s, templateVariables: _v, ...generate } = options;
  if (plan?.grammar) {
    if (generate.grammar !== undefined || generate.jsonSchema !== undefined || generate.jsonObject) {
      throw new TypeError('tensorloom: a required or named tool_choice constrains the output itself; drop grammar / jsonSchema / jsonObject');
    }
    generate.grammar = plan.grammar;
  }
  return { prompt, generate, tools: plan };
}

export async function chat(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): Promise<ChatResult> {
  const p = prepareChat(model.info, messages, options);
  const r = await model.generate(p.prompt, p.generate);
  return toChatResult(r, p.tools);
}

export function chatStream(model: ChatModel, messages: readonly ChatMessage[], options: ChatOptions = {}): ChatStream {
  let p: Prepared;
  try {
    p = prepareChat(model.info, messages, options);
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
  const s = model.stream(p.prompt, p.generate);
  const result = s.result.then((r) => toChatResult(r, p.tools));
  result.catch(() => undefined);
  return { result, [Symbol.asyncIterator]: () => s[Symbol.asyncIterator]() };
}

/** The reply as a message: tool calls read back when tools were offered (a call cut off by maxTokens stays text). */
export function toChatResult(r: GenerateResult, tools: ToolPlan | null = null): ChatResult {
  const calls = tools?.parse && r.finishReason === 'stop' ? parseToolCalls(r.text, tools.format) : null;
  if (calls) return { ...r, finishReason: 'tool_calls', message: { role: 'assistant', content: null, tool_calls: calls } };
  return { ...r, message: { role: 'assistant', content: r.text } };
}

function checkMessages(messages: readonly ChatMessage[]): void {
  if (!Array.isArray(messages)) throw new TypeError('tensorloom: chat needs an array of messages ({ role, content })');
  messages.forEach((m, i) => {
    if (typeof m !== 'object' || m === null || typeof m.role !== 'string') throw new TypeError(`tensorloom: messages[${i}] must be an object with a string role`);
    if (m.content !== null && typeof m.content !== 'string') throw new TypeError(`tensorloom: messages[${i}].content must be a string (or null for an assistant turn with tool_calls)`);
  });
}
