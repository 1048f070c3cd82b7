/**
 * The structured-output and function-calling fields of a request, checked and turned into a GBNF
 * grammar and a tool plan: `response_format` ({type: text | json_object | json_schema}), llama.cpp's
 * `grammar` (GBNF text), `tools` / `tool_choice`. Bad input is a RequestError (400) naming the
 * field, with the grammar position or the unsupported schema features.
 */
import { checkTools, parseToolCalls, toolCallPrefix, type ToolChoice, type ToolPlan } from '../chat/tools.js';
import type { ToolCall, ToolDefinition } from '../chat/types.js';
import { GrammarError, SchemaError } from '../grammar/errors.js';
import { parseGBNF } from '../grammar/gbnf.js';
import { jsonObjectGrammar, jsonSchemaToGrammar } from '../grammar/json-schema.js';
import { RequestError } from './errors.js';

type Body = Record<string, unknown>;

export interface OutputConstraints {
  /** GBNF from response_format or grammar, or null. */
  grammar: string | null;
  tools: ToolDefinition[] | null;
  toolChoice: ToolChoice | null;
}

export function outputConstraints(body: Body, chat: boolean): OutputConstraints {
  let grammar: string | null = null;
  const rf = body.response_format;
  if (rf !== undefined && rf !== null) {
    if (typeof rf !== 'object' || Array.isArray(rf)) throw new RequestError('response_format must be an object such as {"type": "json_object"}', 'response_format');
    const type = (rf as Body).type;
    if (type === 'json_object') grammar = jsonObjectGrammar();
    else if (type === 'json_schema') {
      const js = (rf as Body).json_schema;
      if (typeof js !== 'object' || js === null || Array.isArray(js)) throw new RequestError('response_format.json_schema must be an object {name, schema}', 'response_format.json_schema');
      const schema = (js as Body).schema ?? true;
      try {
        grammar = jsonSchemaToGrammar(schema);
      } catch (err) {
        if (err instanceof SchemaError) {
          const code = err.unsupported.length > 0 ? 'unsupported_schema' : 'invalid_schema';
          throw new RequestError(`response_format.json_schema.schema: ${err.message}`, 'response_format.json_schema.schema', 400, code);
        }
        throw err;
      }
    } else if (type !== 'text') throw new RequestError(`response_format.type must be text, json_object or json_schema; got ${JSON.stringify(type)}`, 'response_format.type');
  }
  if (body.grammar !== undefined && body.grammar !== null) {
    if (grammar !== null) throw new RequestError('give either response_format or grammar, not both', 'grammar');
    if (typeof body.grammar !== 'string') throw new RequestError('grammar must be a GBNF string', 'grammar');
    try {
      parseGBNF(body.grammar);
    } catch (err) {
      if (err instanceof GrammarError) throw new RequestError(`grammar: ${err.message}`, 'grammar', 400, 'invalid_grammar');
      throw err;
    }
    grammar = body.grammar;
  }
  let tools: ToolDefinition[] | null = null;
  let toolChoice: ToolChoice | null = null;
  if (chat && ((body.tools !== undefined && body.tools !== null) || (body.tool_choice !== undefined && body.tool_choice !== null))) {
    try {
      const t = checkTools(body.tools ?? [], body.tool_choice ?? undefined);
      tools = t.tools;
      toolChoice = t.choice;
    } catch (err) {
      const param = /tool_choice/.test((err as Error).message) ? 'tool_choice' : 'tools';
      throw new RequestError((err as Error).message, param);
    }
    if (grammar !== null && toolChoice !== 'none' && toolChoice !== 'auto') throw new RequestError('a required or named tool_choice constrains the output itself; drop response_format / grammar', 'tool_choice');
  }
  return { grammar, tools, toolChoice };
}

/** What a finished reply becomes: tool calls when tools were offered and the text is calls. */
export function readToolCalls(text: string, finishReason: string, plan: ToolPlan | null): ToolCall[] | null {
  if (!plan?.parse || finishReason !== 'stop') return null;
  return parseToolCalls(text, plan.format);
}

/**
 * Streaming with tools: text that could be the start of a call is held back; once it is a call,
 * the whole call is sent as one `tool_calls` delta at the end; once it cannot be, it streams as content.
 */
export class ToolStreamGate {
  private mode: 'undecided' | 'text' | 'call';
  private held = '';
  private readonly prefix: string;

  constructor(private readonly plan: ToolPlan) {
    this.mode = plan.grammar ? 'call' : 'undecided';
    this.prefix = toolCallPrefix(plan.format);
  }

  /** The content to send now for this chunk ('' while holding back). */
  push(text: string): string {
    if (this.mode === 'text') return text;
    this.held += text;
    if (this.mode === 'call') return '';
    const s = this.held.trimStart();
    if (s.startsWith(this.prefix) || (this.plan.format === 'llama3' && s.startsWith('<|python_tag|>'))) {
      this.mode = 'call';
      return '';
    }
    if (this.prefix.startsWith(s)) return '';
    this.mode = 'text';
    const out = this.held;
    this.held = '';
    return out;
  }

  /** At the end: the calls, or the held text to send as content. */
  finish(finishReason: string): { calls: ToolCall[] | null; text: string } {
    const calls = this.mode === 'text' ? null : readToolCalls(this.held, finishReason, this.plan);
    return calls ? { calls, text: '' } : { calls: null, text: this.held };
  }
}

/** llama-server's `chat_template_kwargs`: extra variables for the chat template (e.g. {"enable_thinking": false}). */
export function templateKwargs(body: Body): Record<string, unknown> | undefined {
  const k = body.chat_template_kwargs;
  if (k === undefined || k === null) return undefined;
  if (typeof k !== 'object' || Array.isArray(k)) throw new RequestError('chat_template_kwargs must be an object of template variables', 'chat_template_kwargs');
  for (const reserved of ['messages', 'tools', 'add_generation_prompt', 'bos_token', 'eos_token']) {
    if (Object.hasOwn(k, reserved)) throw new RequestError(`chat_template_kwargs may not set '${reserved}' (the server sets it)`, 'chat_template_kwargs');
  }
  return k as Record<string, unknown>;
}
