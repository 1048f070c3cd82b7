/**
 * The request fields each endpoint understands. A field outside these lists is answered with 400
 * naming it, instead of being silently ignored (a client asking for something this server does
 * not do should learn so). A field added to validate.ts / chat-request.ts belongs here too.
 */
import { httpOptionFields } from '../generate/options.js';
import { RequestError } from './errors.js';

/** Fields both endpoints read (see validate.ts `common`), plus OpenAI's bookkeeping fields that change nothing in the output. */
const COMMON = [
  'model', 'stream', 'stream_options', 'n', 'stop', 'seed', 'max_tokens',
  'temperature', 'top_p', 'top_k', 'min_p', 'presence_penalty', 'frequency_penalty', 'repetition_penalty', 'repeat_penalty',
  'logit_bias', 'logprobs', 'ignore_eos', 'grammar', 'response_format',
  // Accepted and ignored on purpose: they label or store a request but do not change the answer.
  'user', 'metadata', 'store', 'service_tier',
];

export const COMPLETION_FIELDS: ReadonlySet<string> = new Set([...COMMON, 'prompt', 'echo', 'suffix', 'best_of']);

export const CHAT_FIELDS: ReadonlySet<string> = new Set([
  ...COMMON, 'messages', 'max_completion_tokens', 'top_logprobs', 'tools', 'tool_choice', 'parallel_tool_calls', 'chat_template_kwargs',
]);

/** Throws a 400 naming the first field not in `known` nor a generation option's HTTP name (ts/generate/options.ts). */
export function rejectUnknownFields(body: Record<string, unknown>, known: ReadonlySet<string>, endpoint: string): void {
  const options = new Set(httpOptionFields());
  for (const key of Object.keys(body)) {
    if (known.has(key) || options.has(key)) continue;
    const name = key.length > 64 ? `${key.slice(0, 64)}…` : key;
    const takes = [...new Set([...known, ...options])].join(', ');
    throw new RequestError(`unknown field '${name}'; this endpoint takes: ${takes} (the server does not support '${name}' on ${endpoint}: remove it)`, key, 400, 'unsupported_parameter');
  }
}
