/**
 * A tiny deterministic engine for scheduler and HTTP tests (no model files needed).
 *
 * Each slot stores the tokens written at each position, like a KV cache; the next-token logits
 * peak at a hash of everything in the slot up to the last position. So the output depends on the
 * whole history being in the right slot at the right positions: a scheduler that mixes up slots,
 * skips or repeats prompt chunks, or feeds a wrong position produces different text. `expected()`
 * computes the same continuation directly, without any batching, as the reference.
 *
 * engineOptions: { stepMs?: number (sleep per forward, to simulate compute; or env TOY_STEP_MS), chatTemplate?: string, probe?: SharedArrayBuffer
 * (Int32Array: [0] max rows in one forward, [1] max tokens in one forward, [2] forward calls),
 * failToken?: number (a forward pass with this token in a row throws, after writing the rows before it) }
 */
import type { TemplatedText } from '../../ts/chat/types.js';
import type { BatchEngine, BatchRow, EngineLoadOptions, LoadedEngine, SamplingParams, TokenSampler } from '../../ts/server/engine.js';

export const BOS = 0;
export const EOS = 1;
/** Ids 2.. are single bytes: printable ASCII 32..126, then 0xC3 and 0xA9 ('é' as two tokens). */
const BYTES = [...Array.from({ length: 95 }, (_, i) => 32 + i), 0xc3, 0xa9];
export const VOCAB = 2 + BYTES.length;
const byteToId = new Map(BYTES.map((b, i) => [b, i + 2]));

export function encode(text: string, addBos: boolean): number[] {
  const ids = addBos ? [BOS] : [];
  for (const b of new TextEncoder().encode(text)) ids.push(byteToId.get(b) ?? byteToId.get(63)!); // '?' for others
  return ids;
}

/** A rendered chat template: its leading '<s>' (the toy's one control token) is the BOS token. */
function encodePrompt(prompt: string | TemplatedText, addBos: boolean): number[] {
  if (typeof prompt === 'string') return encode(prompt, addBos);
  const bos = prompt.text.startsWith('<s>');
  return encode(bos ? prompt.text.slice(3) : prompt.text, addBos || bos);
}

export function decode(ids: readonly number[]): string {
  const bytes = ids.filter((t) => t >= 2 && t < VOCAB).map((t) => BYTES[t - 2]!);
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** Byte-level stream decoder: releases only complete UTF-8 characters. */
function createStreamDecoder(): { push(id: number): string; flush(): string } {
  const td = new TextDecoder('utf-8');
  return {
    push: (id) => (id >= 2 && id < VOCAB ? td.decode(Uint8Array.of(BYTES[id - 2]!), { stream: true }) : ''),
    flush: () => td.decode(),
  };
}

/** FNV-1a over token ids. */
function hash(ids: ArrayLike<number>, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ ids[i]!, 0x01000193) >>> 0;
  return h;
}

/** The token the toy model ranks first after `ids`: mostly lowercase letters and spaces, 'é' pairs, EOS rarely. */
export function nextToken(ids: ArrayLike<number>, n: number, eosEvery: number): number {
  const h = hash(ids, n);
  if (eosEvery > 0 && h % eosEvery === 0) return EOS;
  const r = (h >>> 8) % 32;
  if (r < 26) return byteToId.get(97 + r)!;
  if (r < 30) return byteToId.get(32)!;
  // Start of 'é': the next token is forced to the second byte below.
  return byteToId.get(0xc3)!;
}

function logitsFor(ids: ArrayLike<number>, n: number, eosEvery: number, out: Float32Array): void {
  const h = hash(ids, n);
  for (let i = 0; i < VOCAB; i++) out[i] = ((Math.imul(h ^ i, 0x9e3779b1) >>> 0) % 1000) / 1000; // noise in [0, 1)
  const last = ids[n - 1]!;
  out[last === byteToId.get(0xc3) ? byteToId.get(0xa9)! : nextToken(ids, n, eosEvery)] = 5;
}

/** Greedy continuation of `prompt` computed directly: the reference for scheduler tests. */
export function expected(prompt: number[], maxTokens: number, eosEvery = 0): { tokens: number[]; text: string; eos: boolean } {
  const ids = prompt.slice();
  const out: number[] = [];
  const logits = new Float32Array(VOCAB);
  while (out.length < maxTokens) {
    logitsFor(ids, ids.length, eosEvery, logits);
    let best = 0;
    for (let i = 1; i < VOCAB; i++) if (logits[i]! > logits[best]!) best = i;
    if (best === EOS) return { tokens: out, text: decode(out), eos: true };
    out.push(best);
    ids.push(best);
  }
  return { tokens: out, text: decode(out), eos: false };
}

class ToyEngine implements BatchEngine {
  readonly vocabSize = VOCAB;
  private readonly cache: Int32Array[];
  private readonly len: Int32Array;
  private readonly logits: Float32Array;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    readonly slots: number,
    readonly contextLength: number,
    private readonly eosEvery: number,
    private readonly stepMs: number,
    private readonly probe: Int32Array | null,
    private readonly failToken: number,
  ) {
    this.cache = Array.from({ length: slots }, () => new Int32Array(contextLength));
    this.len = new Int32Array(slots);
    this.logits = new Float32Array(slots * VOCAB);
  }

  forward(rows: readonly BatchRow[]): Float32Array {
    let n = 0;
    let tokens = 0;
    for (const row of rows) {
      if (row.slot < 0 || row.slot >= this.slots) throw new RangeError(`toy: slot ${row.slot} out of range`);
      if (row.pos > this.len[row.slot]!) throw new RangeError(`toy: slot ${row.slot} holds ${this.len[row.slot]} positions, row starts at ${row.pos}`);
      if (row.pos + row.tokens.length > this.contextLength) throw new RangeError('toy: past the context');
      if (row.tokens.includes(this.failToken)) throw new Error(`toy: token ${this.failToken} fails the pass`);
      this.cache[row.slot]!.set(row.tokens, row.pos);
      this.len[row.slot] = row.pos + row.tokens.length;
      tokens += row.tokens.length;
      if (row.wantLogits) logitsFor(this.cache[row.slot]!, this.len[row.slot]!, this.eosEvery, this.logits.subarray(n++ * VOCAB, n * VOCAB));
    }
    if (this.probe) {
      Atomics.store(this.probe, 0, Math.max(Atomics.load(this.probe, 0), rows.length));
      Atomics.store(this.probe, 1, Math.max(Atomics.load(this.probe, 1), tokens));
      Atomics.add(this.probe, 2, 1);
    }
    if (this.stepMs > 0) Atomics.wait(this.sleeper, 0, 0, this.stepMs);
    return this.logits.subarray(0, n * VOCAB);
  }

  /** n > 1: the slot's tokens are its "KV cache", so a fork copies them (engineOptions.noCopySlot hides this method). */
  copySlot(from: number, to: number, positions: number): void {
    if (positions > this.len[from]!) throw new RangeError(`toy: slot ${from} holds ${this.len[from]} positions, asked to copy ${positions}`);
    this.cache[to]!.set(this.cache[from]!.subarray(0, positions));
    this.len[to] = positions;
  }

  /** Prompt caching: the slot's tokens are its "KV cache", so it can resume anywhere it holds (engineOptions.noCopySlot hides this too). */
  resumeAt(slot: number, n: number): number {
    return Math.min(n, this.len[slot]!);
  }

  dispose(): void {}
}

/** Greedy at temperature 0; otherwise a seeded draw from softmax(logits / T). */
function makeSampler(p: SamplingParams): TokenSampler {
  let state = (p.seed ?? 12345) >>> 0 || 1;
  return (logits) => {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    if (p.temperature === 0) return best;
    let sum = 0;
    const w = Array.from(logits, (l) => Math.exp((l - logits[best]!) / p.temperature));
    for (const x of w) sum += x;
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    let u = ((state >>> 0) / 2 ** 32) * sum;
    for (let i = 0; i < w.length; i++) if ((u -= w[i]!) <= 0) return i;
    return best;
  };
}

export function loadEngine(opts: EngineLoadOptions): LoadedEngine {
  const o = opts.engineOptions ?? {};
  const ctx = opts.contextLength ?? 256;
  const eosEvery = typeof o.eosEvery === 'number' ? o.eosEvery : 0;
  const probe = o.probe instanceof SharedArrayBuffer ? new Int32Array(o.probe) : null;
  const stepMs = typeof o.stepMs === 'number' ? o.stepMs : Number(process.env.TOY_STEP_MS ?? 0);
  const failToken = typeof o.failToken === 'number' ? o.failToken : -1;
  const engine = new ToyEngine(opts.slots, ctx, eosEvery, stepMs, probe, failToken);
  return {
    // noCopySlot: an engine that cannot fork a prefix (n > 1 then runs the prompt once per choice)
    engine: o.noCopySlot === true ? { vocabSize: VOCAB, contextLength: ctx, slots: opts.slots, forward: (rows) => engine.forward(rows), dispose: () => engine.dispose() } : engine,
    tokenizer: { encode: encodePrompt, createStreamDecoder, eosIds: [EOS] },
    info: {
      id: 'toy',
      architecture: 'toy',
      vocabSize: VOCAB,
      contextLength: ctx,
      slots: opts.slots,
      chatTemplate: typeof o.chatTemplate === 'string' ? o.chatTemplate : null,
      kvCacheBytes: opts.slots * ctx * 4,
      bosText: '<s>',
      eosText: '</s>',
    },
    makeSampler,
  };
}
