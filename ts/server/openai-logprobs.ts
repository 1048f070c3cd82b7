/**
 * Per-token log-probabilities in OpenAI's two response shapes (the numbers come from the batch loop,
 * ts/generate/logprobs.ts: the log-softmax of the model's logits, llama-server's convention):
 *
 * - chat: `logprobs: { content: [{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }], refusal: null }`
 * - legacy completions: `logprobs: { tokens, token_logprobs, top_logprobs: [{ text: logprob }], text_offset }`,
 *   where text_offset[j] is where token j's text starts in the choice's text (the sum of the lengths of
 *   the tokens before it, counted from the start of the completion).
 */
import type { TokenLogprob } from '../generate/logprobs.js';

export interface ChatLogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

export function chatLogprobs(entries: readonly TokenLogprob[]): { content: ChatLogprobEntry[]; refusal: null } {
  return {
    content: entries.map((e) => ({
      token: e.text,
      logprob: e.logprob,
      bytes: e.bytes,
      top_logprobs: e.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: t.bytes })),
    })),
    refusal: null,
  };
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

/** `offset`: where the first entry's text starts (a streamed choice continues its earlier chunks). */
export function completionLogprobs(entries: readonly TokenLogprob[], offset = 0): CompletionLogprobs {
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  for (const e of entries) {
    out.tokens.push(e.text);
    out.token_logprobs.push(e.logprob);
    // Two tokens with the same text keep the more likely one (the list is sorted, most likely first).
    const top: Record<string, number> = {};
    for (const t of e.top) if (!Object.hasOwn(top, t.text)) top[t.text] = t.logprob;
    out.top_logprobs.push(top);
    out.text_offset.push(offset);
    offset += e.text.length;
  }
  return out;
}
