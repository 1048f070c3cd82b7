/**
 * Checks OpenAI-style request bodies field by field and turns them into scheduler options.
 * Every failure is a RequestError naming the field and what was expected, which the HTTP layer
 * answers with 400 and an OpenAI-shaped error body.
 */
import { MAX_TOP_LOGPROBS } from '../generate/logprobs.js';
import { HttpOptionError, optionsFromHttp } from '../generate/options.js';
import { RequestError } from './errors.js';
import type { GenerateOptions } from './scheduler.js';
import { CHAT_FIELDS, COMPLETION_FIELDS, rejectUnknownFields } from './request-fields.js';

export interface ChatMessage {
  role: string;
  content: string | null;
  name?: string;
  /** An assistant turn's function calls (OpenAI shape; checked in ts/server/chat-request.ts's terms). */
  tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
  /** The call a `tool` message answers. */
  tool_call_id?: string;
}

interface Common {
  options: Omit<GenerateOptions, 'signal' | 'onText'>;
  stream: boolean;
  /** stream_options.include_usage: send a final chunk with usage. */
  includeUsage: boolean;
}

export interface CompletionRequest extends Common {
  prompt: string | number[];
}

export interface ChatRequest extends Common {
  messages: ChatMessage[];
}

export interface Limits {
  /** Positions per sequence: max_tokens may not exceed it. */
  contextLength: number;
  /** max_tokens when /v1/completions gets none (OpenAI: 16). */
  defaultCompletionTokens: number;
  /** KV-cache slots: the most choices (`n`) one request may ask for. Default 128. */
  slots?: number;
}

type Body = Record<string, unknown>;

export function parseJsonBody(raw: string): Body {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    throw new RequestError(`the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RequestError(`the request body must be a JSON object, got ${describe(value)}`);
  }
  return value as Body;
}

export function validateCompletion(body: Body, limits: Limits): CompletionRequest {
  rejectUnknownFields(body, COMPLETION_FIELDS, '/v1/completions');
  const p = body.prompt;
  let prompt: string | number[];
  if (p === undefined || p === null) prompt = '';
  else if (typeof p === 'string') prompt = p;
  else if (Array.isArray(p) && p.length === 1 && (typeof p[0] === 'string' || Array.isArray(p[0]))) {
    prompt = typeof p[0] === 'string' ? p[0] : tokenIds(p[0], 'prompt[0]');
  } else if (Array.isArray(p) && p.every((x) => typeof x === 'number')) prompt = tokenIds(p, 'prompt');
  else if (Array.isArray(p) && p.length > 1) {
    throw new RequestError('prompt: several prompts in one request are not supported; send one request per prompt', 'prompt');
  } else throw new RequestError(`prompt must be a string, an array of token ids, or an array holding one of those; got ${describe(p)}`, 'prompt');
  if (body.echo !== undefined && body.echo !== false && body.echo !== null) unsupported('echo', 'echo: true');
  if (body.suffix !== undefined && body.suffix !== null) unsupported('suffix', 'suffix');
  const bestOf = optInt(body, 'best_of', 1, 128);
  if (bestOf !== undefined && bestOf !== 1) unsupported('best_of', 'best_of > 1');
  // Legacy completions: logprobs is the number of alternatives per token (OpenAI allows up to 5; we allow 20, as chat).
  const top = optInt(body, 'logprobs', 0, MAX_TOP_LOGPROBS);
  const maxTokens = optInt(body, 'max_tokens', 1, limits.contextLength);
  const r = { prompt, ...common(body, maxTokens === undefined ? limits.defaultCompletionTokens : maxTokens, limits) };
  if (top !== undefined) Object.assign(r.options, { logprobs: true, topLogprobs: top });
  return r;
}

export function validateChat(body: Body, limits: Limits): ChatRequest {
  const m = body.messages;
  rejectUnknownFields(body, CHAT_FIELDS, '/v1/chat/completions');
  if (!Array.isArray(m) || m.length === 0) throw new RequestError(`messages must be a non-empty array of {role, content}; got ${describe(m)}`, 'messages');
  const messages = m.map((msg, i) => chatMessage(msg, i));
  const logprobs = optBool(body, 'logprobs') ?? false;
  const top = optInt(body, 'top_logprobs', 0, MAX_TOP_LOGPROBS);
  if (top !== undefined && top > 0 && !logprobs) throw new RequestError('top_logprobs needs logprobs: true', 'top_logprobs');
  const a = optInt(body, 'max_completion_tokens', 1, limits.contextLength);
  const b = optInt(body, 'max_tokens', 1, limits.contextLength);
  const max = a ?? b;
  const r = { messages, ...common(body, max === undefined ? null : max, limits) };
  if (logprobs) Object.assign(r.options, { logprobs: true, topLogprobs: top ?? 0 });
  return r;
}

function chatMessage(msg: unknown, i: number): ChatMessage {
  const at = `messages[${i}]`;
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new RequestError(`${at} must be an object with role and content; got ${describe(msg)}`, at);
  const { role, content, name } = msg as Body;
  if (typeof role !== 'string' || !['system', 'user', 'assistant', 'tool', 'developer'].includes(role)) {
    throw new RequestError(`${at}.role must be one of system, user, assistant, tool, developer; got ${describe(role)}`, `${at}.role`);
  }
  let text: string;
  if (typeof content === 'string') text = content;
  else if ((content === null || content === undefined) && role === 'assistant') text = '';
  else if (Array.isArray(content)) {
    text = content
      .map((part, j) => {
        const pa = part as Body;
        if (typeof pa !== 'object' || pa === null || pa.type !== 'text' || typeof pa.text !== 'string') {
          throw new RequestError(`${at}.content[${j}] must be {type: "text", text: string} (this model reads text only)`, `${at}.content`);
        }
        return pa.text;
      })
      .join('');
  } else throw new RequestError(`${at}.content must be a string or an array of text parts; got ${describe(content)}`, `${at}.content`);
  if (name !== undefined && typeof name !== 'string') throw new RequestError(`${at}.name must be a string`, `${at}.name`);
  const out: ChatMessage = name === undefined ? { role, content: text } : { role, content: text, name };
  const { tool_calls: calls, tool_call_id: callId } = msg as Body;
  if (calls !== undefined && calls !== null) {
    const ok =
      role === 'assistant' &&
      Array.isArray(calls) &&
      calls.every((c: Body) => typeof c === 'object' && c !== null && typeof c.id === 'string' && c.type === 'function' && typeof (c.function as Body | undefined)?.name === 'string' && typeof (c.function as Body).arguments === 'string');
    if (!ok) throw new RequestError(`${at}.tool_calls must be an assistant's array of {id, type: "function", function: {name, arguments: string}}`, `${at}.tool_calls`);
    out.tool_calls = calls as ChatMessage['tool_calls'];
    if (content === null || content === undefined) out.content = null;
  }
  if (callId !== undefined && callId !== null) {
    if (typeof callId !== 'string') throw new RequestError(`${at}.tool_call_id must be a string`, `${at}.tool_call_id`);
    out.tool_call_id = callId;
  }
  return out;
}

function common(body: Body, maxTokens: number | null, limits: Limits): Common {
  if (body.model !== undefined && typeof body.model !== 'string') throw new RequestError(`model must be a string; got ${describe(body.model)}`, 'model');
  // n choices take n KV-cache slots at once (the prompt's prefix is computed once and copied into each).
  const maxN = Math.min(limits.slots ?? 128, 128);
  let n: number | undefined;
  try {
    n = optInt(body, 'n', 1, maxN);
  } catch (err) {
    if (!(err instanceof RequestError) || typeof body.n !== 'number' || !Number.isInteger(body.n)) throw err;
    throw new RequestError(`n must be between 1 and ${maxN} (each choice takes one of the server's ${maxN} parallel slots; see --parallel); got ${body.n}`, 'n');
  }
  const stream = optBool(body, 'stream') ?? false;
  let includeUsage = false;
  const so = body.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw new RequestError('stream_options must be an object', 'stream_options');
    includeUsage = optBool(so as Body, 'include_usage', 'stream_options.include_usage') ?? false;
  }
  let sampling: Partial<CompletionRequest['options']>;
  try {
    sampling = optionsFromHttp(body) as Partial<CompletionRequest['options']>;
  } catch (err) {
    if (err instanceof HttpOptionError) throw new RequestError(err.message, err.param);
    throw err;
  }
  const options: CompletionRequest['options'] = { ...sampling, maxTokens, ...(n !== undefined && n > 1 ? { n } : {}) };
  const bias = logitBias(body.logit_bias);
  if (bias) options.logitBias = bias;
  return { options, stream, includeUsage };
}

/** OpenAI's logit_bias: {"token id": bias in [-100, 100]}; ids are checked against the vocabulary by the loop. */
function logitBias(v: unknown): Record<number, number> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new RequestError(`logit_bias must be an object mapping token ids to numbers; got ${describe(v)}`, 'logit_bias');
  const out: Record<number, number> = {};
  for (const [k, b] of Object.entries(v as Body)) {
    if (!/^\d+$/.test(k)) throw new RequestError(`logit_bias: the key ${JSON.stringify(k)} is not a token id (a non-negative integer)`, 'logit_bias');
    if (typeof b !== 'number' || !Number.isFinite(b) || b < -100 || b > 100) throw new RequestError(`logit_bias["${k}"] must be a number in [-100, 100]; got ${describe(b)}`, 'logit_bias');
    out[Number(k)] = b;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

function tokenIds(v: unknown[], param: string): number[] {
  if (!v.every((x) => Number.isInteger(x) && (x as number) >= 0)) throw new RequestError(`${param} must hold non-negative integer token ids`, 'prompt');
  return v as number[];
}

function optInt(body: Body, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new RequestError(`${key} must be an integer; got ${describe(v)}`, key);
  if (v < min || v > max) {
    const why = key.startsWith('max_') && v > max ? ` (the model's context holds ${max} positions)` : '';
    throw new RequestError(`${key} must be between ${min} and ${max}${why}; got ${v}`, key);
  }
  return v;
}

function optBool(body: Body, key: string, name = key): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new RequestError(`${name} must be true or false; got ${describe(v)}`, name);
  return v;
}

function unsupported(param: string, what: string): never {
  throw new RequestError(`${what} is not supported by this server`, param);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}
