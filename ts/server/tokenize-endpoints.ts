/**
 * POST /tokenize and POST /detokenize in llama-server's shapes:
 *
 *   /tokenize    {content, add_special?, parse_special?, with_pieces?} → {tokens: [id…]} or {tokens: [{id, piece}…]}
 *   /detokenize  {tokens: [id…]}                                        → {content}
 *
 * `add_special` prepends BOS (default false, as llama-server); `parse_special` (default true, as
 * llama-server) turns control-token spellings such as `<|im_start|>` into their tokens. A piece is the
 * token's text, or its bytes as an array of numbers when they are not complete UTF-8 on their own.
 */
import { RequestError } from './errors.js';
import type { TokenizeReply } from './protocol.js';
import type { Scheduler } from './scheduler.js';

type Body = Record<string, unknown>;

export async function tokenize(scheduler: Scheduler, body: Body): Promise<unknown> {
  const content = body.content;
  if (typeof content !== 'string') throw new RequestError(`content must be a string; got ${kind(content)}`, 'content');
  const r = await scheduler.tokenizeCall({
    type: 'tokenize',
    text: content,
    addSpecial: flag(body, 'add_special', false),
    parseSpecial: flag(body, 'parse_special', true),
    withPieces: flag(body, 'with_pieces', false),
  });
  const tokens = answer(r, 'content').tokens ?? [];
  if (!r.pieces) return { tokens };
  return { tokens: tokens.map((id, i) => ({ id, piece: r.pieces![i]! })) };
}

export async function detokenize(scheduler: Scheduler, body: Body): Promise<unknown> {
  const tokens = body.tokens;
  if (!Array.isArray(tokens)) throw new RequestError(`tokens must be an array of token ids; got ${kind(tokens)}`, 'tokens');
  const bad = tokens.findIndex((t) => !Number.isInteger(t) || (t as number) < 0);
  if (bad >= 0) throw new RequestError(`tokens[${bad}] must be a non-negative integer token id; got ${kind(tokens[bad])}`, 'tokens');
  const r = await scheduler.tokenizeCall({ type: 'detokenize', tokens: tokens as number[] });
  return { content: answer(r, 'tokens').content ?? '' };
}

function answer(r: TokenizeReply, param: string): TokenizeReply {
  if (r.error !== undefined) throw new RequestError(`${param}: ${r.error}`, param);
  return r;
}

function flag(body: Body, key: string, dflt: boolean): boolean {
  const v = body[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new RequestError(`${key} must be true or false; got ${kind(v)}`, key);
  return v;
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return 'a string';
  return `${typeof v} ${typeof v === 'object' ? '' : String(v)}`.trim();
}
