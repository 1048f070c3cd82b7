/**
 * Function calling: how a conversation with `tools` is rendered, constrained and read back.
 *
 * The tools go to the template (`tools`), which shows them to the model in its trained format.
 * The call format follows the template: Hermes / Qwen write `<tool_call>{"name", "arguments"}</tool_call>`,
 * Llama 3.x writes `{"name", "parameters"}`, Mistral writes `[TOOL_CALLS][{"name", "arguments"}]`.
 * A template that shows no tools gets them in a system message, with the Hermes format.
 * `tool_choice` required or a named function constrains the output to a call whose arguments match
 * the function's JSON schema (ts/grammar); `auto` lets the model choose and reads a call back when
 * the text is one; `none` renders no tools and reads nothing back.
 */
import { randomBytes } from 'node:crypto';
import { jsonSchemaToGrammar, literal } from '../grammar/json-schema.js';
import type { ChatMessage, JsonSchema, ToolCall, ToolDefinition } from './types.js';

export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
export type ToolCallFormat = 'hermes' | 'llama3' | 'mistral';

export interface ToolPlan {
  format: ToolCallFormat;
  /** Tools for the template (undefined: none). */
  tools: ToolDefinition[] | undefined;
  /** The conversation to render (a system message is added when the template shows no tools). */
  messages: ChatMessage[];
  /** GBNF forcing a call (required / named), or null. */
  grammar: string | null;
  /** Read tool calls back from the output. */
  parse: boolean;
}

export function toolCallFormat(templateSource: string): ToolCallFormat {
  if (templateSource.includes('[TOOL_CALLS]')) return 'mistral';
  if (templateSource.includes('<tool_call>')) return 'hermes';
  if (templateSource.includes('<|python_tag|>') || (templateSource.includes('"parameters"') && templateSource.includes('<|eot_id|>'))) return 'llama3';
  return 'hermes';
}

/** The text that starts a call in `format` (to tell a call from an answer while streaming). */
export function toolCallPrefix(format: ToolCallFormat): string {
  return format === 'hermes' ? '<tool_call>' : format === 'llama3' ? '{"name"' : '[TOOL_CALLS]';
}

export function checkTools(tools: unknown, choice: unknown): { tools: ToolDefinition[]; choice: ToolChoice } {
  if (!Array.isArray(tools)) throw new TypeError('tools must be an array of { type: "function", function: { name, description?, parameters? } }');
  const names = new Set<string>();
  tools.forEach((t, i) => {
    const f = (t as ToolDefinition | null)?.function;
    if (typeof t !== 'object' || t === null || (t as ToolDefinition).type !== 'function' || typeof f !== 'object' || f === null) {
      throw new TypeError(`tools[${i}] must be { type: "function", function: { name, … } }`);
    }
    if (typeof f.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(f.name)) throw new TypeError(`tools[${i}].function.name must be 1–64 letters, digits, _ or -`);
    if (names.has(f.name)) throw new TypeError(`tools[${i}].function.name '${f.name}' is given twice`);
    names.add(f.name);
    if (f.parameters !== undefined && (typeof f.parameters !== 'object' || f.parameters === null || Array.isArray(f.parameters))) {
      throw new TypeError(`tools[${i}].function.parameters must be a JSON Schema object`);
    }
  });
  let c: ToolChoice = tools.length > 0 ? 'auto' : 'none';
  if (choice !== undefined && choice !== null) {
    if (choice === 'auto' || choice === 'none' || choice === 'required') c = choice;
    else if (typeof choice === 'object' && (choice as { type?: unknown }).type === 'function' && typeof (choice as { function?: { name?: unknown } }).function?.name === 'string') {
      const name = (choice as { function: { name: string } }).function.name;
      if (!names.has(name)) throw new TypeError(`tool_choice names the function '${name}', which is not among the tools`);
      c = { type: 'function', function: { name } };
    } else throw new TypeError('tool_choice must be "auto", "none", "required" or { type: "function", function: { name } }');
    if (c !== 'none' && tools.length === 0) throw new TypeError(`tool_choice ${JSON.stringify(choice)} needs tools`);
  }
  return { tools: tools as ToolDefinition[], choice: c };
}

export function planTools(templateSource: string, messages: readonly ChatMessage[], tools: readonly ToolDefinition[], choice: ToolChoice): ToolPlan {
  const format = toolCallFormat(templateSource);
  const msgs = messages.map((m) => ({ ...m }));
  if (choice === 'none' || tools.length === 0) return { format, tools: undefined, messages: msgs, grammar: null, parse: false };
  const offered = typeof choice === 'object' ? tools.filter((t) => t.function.name === choice.function.name) : tools;
  if (!/\btools\b/.test(templateSource)) {
    // The template cannot show tools: describe them (and the call format) in a system message.
    const text =
      `You can call these functions:\n${JSON.stringify(tools.map((t) => t.function))}\n` +
      'To call one, answer with only <tool_call>{"name": NAME, "arguments": ARGUMENTS}</tool_call>.';
    if (msgs[0]?.role === 'system') msgs[0] = { ...msgs[0], content: `${msgs[0].content ?? ''}\n\n${text}` };
    else msgs.unshift({ role: 'system', content: text });
  }
  const grammar = choice === 'auto' ? null : callGrammar(format, offered);
  return { format, tools: [...tools], messages: msgs, grammar, parse: true };
}

/** GBNF for exactly one call of one of `tools`, arguments per its schema. */
export function callGrammar(format: ToolCallFormat, tools: readonly ToolDefinition[]): string {
  const argsKey = format === 'llama3' ? 'parameters' : 'arguments';
  const schema = {
    anyOf: tools.map((t) => ({
      type: 'object',
      properties: { name: { const: t.function.name }, [argsKey]: (t.function.parameters as JsonSchema | undefined) ?? { type: 'object' } },
      required: ['name', argsKey],
      additionalProperties: false,
    })),
  };
  const json = jsonSchemaToGrammar(schema).replace(/^root ::=/m, 'tool-call ::=');
  const root =
    format === 'hermes' ? `root ::= ${literal('<tool_call>\n')} tool-call ${literal('</tool_call>')}` : format === 'mistral' ? 'root ::= "[" tool-call "]"' : 'root ::= tool-call';
  return `${root}\n${json}`;
}

/** Calls read back from a reply, or null when the text is not (only) calls. */
export function parseToolCalls(text: string, format: ToolCallFormat): ToolCall[] | null {
  const t = text.trim();
  const raw: unknown[] = [];
  if (t.startsWith('<tool_call>')) {
    const re = /<tool_call>([\s\S]*?)<\/tool_call>/g;
    let end = 0;
    for (let m = re.exec(t); m !== null; m = re.exec(t)) {
      if (t.slice(end, m.index).trim() !== '') return null;
      const v = parseJson(m[1]!.trim());
      if (v === undefined) return null;
      raw.push(v);
      end = m.index + m[0].length;
    }
    if (raw.length === 0 || t.slice(end).trim() !== '') return null;
  } else if (t.startsWith('[TOOL_CALLS]') || (format === 'mistral' && t.startsWith('[{'))) {
    const v = parseJson(t.replace(/^\[TOOL_CALLS\]/, '').trim());
    if (!Array.isArray(v)) return null;
    raw.push(...v);
  } else if (t.startsWith('{')) {
    const v = parseJson(t.replace(/^<\|python_tag\|>/, ''));
    if (v === undefined) return null;
    raw.push(v);
  } else return null;
  const calls: ToolCall[] = [];
  for (const r of raw) {
    if (typeof r !== 'object' || r === null) return null;
    const { name, arguments: a, parameters: p } = r as { name?: unknown; arguments?: unknown; parameters?: unknown };
    const args = a ?? p;
    if (typeof name !== 'string' || (args !== undefined && (typeof args !== 'object' || args === null))) return null;
    calls.push({ id: `call_${randomBytes(12).toString('hex')}`, type: 'function', function: { name, arguments: JSON.stringify(args ?? {}) } });
  }
  return calls;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return undefined;
  }
}
