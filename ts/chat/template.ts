/**
 * Chat templates: the Jinja source a model ships (GGUF `tokenizer.chat_template`, or
 * `chat_template` in a Hugging Face tokenizer_config.json) turns a list of messages into the prompt
 * text the model was trained on. Rendered with @huggingface/jinja.
 *
 * Why `literalSpans`: the template's own markers (`<|im_start|>`, `<|eot_id|>` …) must become
 * control tokens, but a user who types `<|im_start|>system` must not get one (llama.cpp's server
 * parses special tokens everywhere, so users can forge turns). We render the real messages (no
 * placeholders, so templates that inspect or slice content still see it), then locate every
 * untrusted string that spells a control token in the rendered text and mark it as data. A check
 * guards the location step: the control tokens left outside the marked spans must be exactly those
 * the template writes when those strings are defused; otherwise rendering fails instead of
 * risking an injected token.
 */
import { Template } from '@huggingface/jinja';
import type { ChatMessage, TemplatedText, ToolDefinition } from './types.js';

/** The template rejected the conversation (raise_exception, an error while rendering). */
export class ChatTemplateError extends Error {
  override name = 'ChatTemplateError';
}

export interface ChatTemplateSpecials {
  /** Text of the BOS / EOS tokens, which templates print as `bos_token` / `eos_token`. */
  bosToken?: string;
  eosToken?: string;
  /** Spellings of the vocabulary's control tokens (those that `parseSpecial` turns into tokens). */
  controlTokens?: readonly string[];
}

export interface RenderOptions {
  /** OpenAI-style tool definitions, passed to the template as `tools`. */
  tools?: readonly ToolDefinition[];
  /** End with the header of the assistant's turn. Default true. */
  addGenerationPrompt?: boolean;
  /** More template variables (e.g. `enable_thinking`, `date_string`). */
  extra?: Readonly<Record<string, unknown>>;
}

/** Something neither a control token's spelling nor likely to form one with its neighbours. */
const DEFUSED = '\u2063';

export class ChatTemplate {
  private readonly template: Template;
  private readonly control: RegExp | null;
  /** The template renders an assistant's `tool_calls` itself (else they are written into the content). */
  private readonly showsToolCalls: boolean;

  /** Parses once; a template the parser rejects is an error at load, not per request. */
  constructor(
    readonly source: string,
    private readonly specials: ChatTemplateSpecials = {},
  ) {
    if (typeof source !== 'string' || source.length === 0) throw new TypeError('tensorloom: a chat template must be a non-empty string');
    try {
      this.template = new Template(source);
    } catch (err) {
      throw new Error(`tensorloom: the chat template does not parse: ${(err as Error).message}`);
    }
    this.showsToolCalls = source.includes('tool_calls');
    const tokens = [...new Set((specials.controlTokens ?? []).filter((t) => t.length > 0))].sort((a, b) => b.length - a.length);
    this.control = tokens.length > 0 ? new RegExp(tokens.map((t) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|'), 'g') : null;
  }

  /** The prompt for `messages` (text + the spans that are data). Throws ChatTemplateError. */
  render(messages: readonly ChatMessage[], options: RenderOptions = {}): TemplatedText {
    const text = this.renderText(templateMessages(messages, this.showsToolCalls), options);
    const re = this.control;
    if (re === null) return { text, literalSpans: [] };
    const untrusted = untrustedStrings(messages, options.tools).filter((s) => matches(re, s).length > 0);
    if (untrusted.length === 0) return { text, literalSpans: [] };

    // What the template writes by itself: the same conversation with control spellings defused.
    const defuse = (s: string): string => s.replace(re, DEFUSED);
    const defusedText = this.renderText(templateMessages(mapStrings(messages, defuse), this.showsToolCalls), { ...options, ...(options.tools ? { tools: mapStrings(options.tools, defuse) } : {}) });
    const own = matches(re, defusedText).map((m) => m.text);
    // Each string where it was written in order; failing that (a template that repeats a field), everywhere.
    for (const everywhere of [false, true]) {
      const literalSpans = locate(text, untrusted, everywhere);
      const kept = matches(re, text).filter((m) => !literalSpans.some(([a, b]) => m.index < b && m.index + m.text.length > a));
      if (kept.length === own.length && kept.every((m, i) => m.text === own[i])) return { text, literalSpans };
    }
    throw new ChatTemplateError(
      "a message spells a control token and the chat template transforms that text, so it cannot be kept apart from the template's own markers; remove the control-token text from the message",
    );
  }

  /** The rendered text alone (control tokens still spelled out). */
  renderText(messages: readonly unknown[], options: RenderOptions = {}): string {
    try {
      return this.template.render({
        ...(options.extra ?? {}),
        messages,
        ...(options.tools && options.tools.length > 0 ? { tools: options.tools } : {}),
        add_generation_prompt: options.addGenerationPrompt ?? true,
        bos_token: this.specials.bosToken ?? '',
        eos_token: this.specials.eosToken ?? '',
      });
    } catch (err) {
      // Templates reject conversations they can't express (raise_exception), e.g. roles that don't alternate.
      throw new ChatTemplateError(`the chat template rejected these messages: ${(err as Error).message}`);
    }
  }
}

/**
 * Messages as templates expect them: tool-call arguments as objects (templates `tojson` them); for a
 * template that knows nothing of tool calls, the calls written into the content as
 * `<tool_call>{…}</tool_call>` (and a null content as ''), so the conversation still renders.
 */
function templateMessages(messages: readonly ChatMessage[], showsToolCalls: boolean): unknown[] {
  return messages.map((m) => {
    if (!m.tool_calls || m.tool_calls.length === 0) return m.content === null ? { ...m, content: '' } : m;
    if (!showsToolCalls) {
      const calls = m.tool_calls.map((c) => `<tool_call>${JSON.stringify({ name: c.function.name, arguments: parseArguments(c.function.arguments) })}</tool_call>`).join('\n');
      const { tool_calls: _c, ...rest } = m;
      return { ...rest, content: `${m.content ?? ''}${m.content ? '\n' : ''}${calls}` };
    }
    return {
      ...m,
      tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: parseArguments(c.function.arguments) } })),
    };
  });
}

function parseArguments(args: string): unknown {
  try {
    return JSON.parse(args) as unknown;
  } catch {
    return args;
  }
}

/** Every string a user controls: message fields other than role, tool definitions. */
function untrustedStrings(messages: readonly ChatMessage[], tools: readonly ToolDefinition[] | undefined): string[] {
  const out: string[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      if (key !== 'role' && v.length > 0) out.push(v);
    } else if (Array.isArray(v)) for (const x of v) walk(x, '');
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(messages, '');
  walk(tools ?? [], '');
  // Argument strings are rendered as JSON: their decoded leaves are what appears.
  for (const m of messages) for (const c of m.tool_calls ?? []) walk(parseArguments(c.function.arguments), '');
  return out;
}

function mapStrings<T>(v: T, f: (s: string) => string): T {
  if (typeof v === 'string') return f(v) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => mapStrings(x, f)) as T;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'role' ? x : mapStrings(x, f)])) as T;
  return v;
}

function matches(re: RegExp, s: string): { index: number; text: string }[] {
  const out: { index: number; text: string }[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) out.push({ index: m.index, text: m[0] });
  return out;
}

/**
 * Where the untrusted strings landed in the rendered text: each one's next occurrence after the
 * previous string (templates write messages in order), else anywhere — or, with `everywhere`,
 * all its occurrences; as written, trimmed, or JSON-escaped (`tojson`).
 */
function locate(text: string, strings: readonly string[], everywhere: boolean): [number, number][] {
  const spans: [number, number][] = [];
  let cursor = 0;
  const free = (a: number, b: number): boolean => !spans.some(([s, e]) => a < e && b > s);
  for (const s of strings) {
    const forms = [...new Set([s, s.trim(), JSON.stringify(s).slice(1, -1)])].filter((f) => f.length > 0);
    let found = false;
    for (const from of [cursor, 0]) {
      for (const f of forms) {
        for (let i = text.indexOf(f, from); i >= 0; i = text.indexOf(f, i + 1)) {
          if (!free(i, i + f.length)) continue;
          spans.push([i, i + f.length]);
          cursor = i + f.length;
          found = true;
          if (!everywhere) break;
        }
        if (found) break;
      }
      if (found) break;
    }
  }
  return spans.sort((a, b) => a[0] - b[0]);
}
