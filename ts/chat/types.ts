/** The shapes of a conversation, as the OpenAI chat API and Hugging Face chat templates spell them. */

/** A JSON Schema (draft 2020-12 subset; see ts/grammar/json-schema.ts for what constrains output). */
export type JsonSchema = { readonly [key: string]: unknown } | boolean;

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; /** JSON text of the arguments. */ arguments: string };
}

export interface ToolDefinition {
  type: 'function';
  function: { name: string; description?: string; parameters?: JsonSchema };
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | 'developer' | (string & {});
  /** null for an assistant turn that only calls tools. */
  content: string | null;
  name?: string;
  /** An assistant turn's function calls. */
  tool_calls?: ToolCall[];
  /** A `tool` message answers this call. */
  tool_call_id?: string;
}

/**
 * A rendered chat prompt: the template's text, where control tokens the template wrote
 * (`<|im_start|>`, `<|eot_id|>`, BOS …) are encoded as control tokens, while the ranges in
 * `literalSpans` — the message contents, tool definitions and arguments — are data: a control
 * token spelled there stays ordinary characters.
 */
export interface TemplatedText {
  readonly text: string;
  readonly literalSpans: ReadonlyArray<readonly [number, number]>;
}

export function isTemplatedText(p: unknown): p is TemplatedText {
  return typeof p === 'object' && p !== null && !Array.isArray(p) && typeof (p as TemplatedText).text === 'string' && Array.isArray((p as TemplatedText).literalSpans);
}
