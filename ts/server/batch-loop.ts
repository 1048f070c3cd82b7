/**
 * Continuous batching: the step loop that runs inside the serving worker.
 *
 * Every step gathers
 *   - one decode row per sequence that has finished its prompt (the token it sampled last), and
 *   - prompt chunks of sequences still in prefill, up to `prefillChunk` tokens in all,
 * and runs them through the engine in one forward pass. A new request therefore joins the batch
 * between two decode steps, its prompt is fed a chunk per step (so a long prompt doesn't stall
 * the others), and a sequence leaves the batch the step it finishes, freeing its KV-cache slot.
 * Requests wait FIFO for a free slot; the bound on that wait queue is kept by the main thread.
 */
import type { TemplatedText } from '../chat/types.js';
import { compileGrammar } from '../grammar/compile.js';
import type { GrammarConstraint } from '../grammar/token-mask.js';
import type { BatchRow, LoadedEngine, SamplingParams, TokenSampler } from './engine.js';
import type { ErrorPayload } from './errors.js';
import { TextStream } from './text-stream.js';

export interface LoopRequest {
  /** Text (encoded here), a rendered chat template, or token ids. */
  prompt: string | TemplatedText | number[];
  /** For a text prompt: prepend BOS. */
  addBos: boolean;
  /** null: until EOS, a stop string or the end of the context. */
  maxTokens: number | null;
  sampling: SamplingParams;
  stop: string[];
  /** Keep going past EOS (benchmarks want fixed lengths). */
  ignoreEos?: boolean;
  /** [token id, bias] pairs added to the logits before sampling; a bias of -100 bans the token. */
  logitBias?: [number, number][];
  /** GBNF the output must match (response_format / tools, already converted and checked by the HTTP layer). */
  grammar?: string;
}

export type FinishReason = 'stop' | 'length';

/** Emitted per request: per step at most one `token`, then `done` when it finishes. `done.text` is held-back text, if any. */
export type LoopEvent =
  | { id: number; kind: 'accepted'; promptTokens: number }
  | { id: number; kind: 'rejected'; error: ErrorPayload }
  | { id: number; kind: 'token'; token: number; text: string }
  | { id: number; kind: 'done'; text: string; finishReason: FinishReason; promptTokens: number; completionTokens: number }
  | { id: number; kind: 'failed'; error: ErrorPayload };

interface Sequence {
  id: number;
  prompt: Int32Array;
  /** Prompt tokens already in the slot's cache. */
  prefilled: number;
  /** prompt + generated (history[0, prompt.length + generated)), for penalties. */
  history: Int32Array;
  sampling: SamplingParams;
  generated: number;
  maxTokens: number | null;
  ignoreEos: boolean;
  /** Set when the sequence gets its slot. */
  sampler: TokenSampler | null;
  logitBias: [number, number][] | null;
  text: TextStream;
  slot: number;
  /** Token to feed at the next decode step (-1 while in prefill). */
  next: number;
  /** The grammar cursor of a constrained request. */
  constraint: GrammarConstraint | null;
}

export interface BatchLoopOptions {
  /** Most prompt tokens fed in one step, shared by all sequences in prefill. */
  prefillChunk: number;
}

export class BatchLoop {
  private readonly waiting: Sequence[] = [];
  /** Sequences holding a slot, in admission order. */
  private readonly running: Sequence[] = [];
  private readonly freeSlots: number[];
  private readonly eos: Set<number>;
  private saved: Float32Array | undefined;

  constructor(
    private readonly loaded: LoadedEngine,
    private readonly opts: BatchLoopOptions,
  ) {
    this.freeSlots = Array.from({ length: loaded.engine.slots }, (_, i) => loaded.engine.slots - 1 - i);
    this.eos = new Set(loaded.tokenizer.eosIds);
  }

  /** Tokenizes and checks the request; on success it waits for a slot. */
  submit(id: number, req: LoopRequest): LoopEvent {
    const { engine, tokenizer } = this.loaded;
    const ctx = engine.contextLength;
    let ids: number[];
    if (!Array.isArray(req.prompt)) {
      try {
        ids = tokenizer.encode(req.prompt, req.addBos);
      } catch (err) {
        return reject(id, `the prompt could not be tokenized: ${(err as Error).message.replace(/^tensorloom: /, '')}`, 'prompt');
      }
    } else {
      ids = req.prompt;
      const bad = ids.findIndex((t) => !Number.isInteger(t) || t < 0 || t >= engine.vocabSize);
      if (bad >= 0) return reject(id, `prompt token ${bad} is ${ids[bad]}; token ids must be integers in [0, ${engine.vocabSize})`, 'prompt');
    }
    if (ids.length === 0) return reject(id, 'the prompt is empty (and the tokenizer adds no BOS): give at least one token', 'prompt');
    if (ids.length >= ctx) {
      return reject(id, `the prompt is ${ids.length} tokens but the context holds ${ctx} positions per sequence; shorten it`, 'prompt');
    }
    if (req.maxTokens !== null && ids.length + req.maxTokens > ctx) {
      return reject(
        id,
        `max_tokens ${req.maxTokens} plus the prompt's ${ids.length} tokens exceeds the context of ${ctx} positions; ask for at most ${ctx - ids.length}`,
        'max_tokens',
      );
    }
    const history = new Int32Array(req.maxTokens === null ? ctx : ids.length + req.maxTokens);
    history.set(ids);
    let text: TextStream;
    try {
      text = new TextStream(tokenizer, ids, req.stop);
    } catch (err) {
      return reject(id, `the prompt could not be decoded: ${(err as Error).message.replace(/^tensorloom: /, '')}`, 'prompt');
    }
    const badBias = req.logitBias?.find(([t]) => t >= engine.vocabSize);
    if (badBias) return reject(id, `logit_bias names token ${badBias[0]}, outside the vocabulary of ${engine.vocabSize} tokens`, 'logit_bias');
    let constraint: GrammarConstraint | null = null;
    if (req.grammar !== undefined) {
      const table = tokenizer.tokenTable?.();
      if (!table) return reject(id, 'this engine does not support grammar-constrained output', 'response_format');
      try {
        constraint = compileGrammar(req.grammar, table).start(tokenizer.eosIds);
      } catch (err) {
        return reject(id, `the grammar could not be compiled: ${(err as Error).message}`, 'grammar');
      }
    }
    this.waiting.push({
      id,
      prompt: Int32Array.from(ids),
      prefilled: 0,
      history,
      sampling: req.sampling,
      generated: 0,
      maxTokens: req.maxTokens,
      ignoreEos: req.ignoreEos ?? false,
      sampler: null,
      logitBias: req.logitBias ?? null,
      text,
      slot: -1,
      next: -1,
      constraint,
    });
    return { id, kind: 'accepted', promptTokens: ids.length };
  }

  /** Drops a request wherever it is; its slot is free for the next step. */
  cancel(id: number): void {
    const w = this.waiting.findIndex((s) => s.id === id);
    if (w >= 0) this.waiting.splice(w, 1);
    const r = this.running.findIndex((s) => s.id === id);
    if (r >= 0) this.release(r);
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  stats(): { slots: number; slotsBusy: number; waiting: number } {
    return { slots: this.loaded.engine.slots, slotsBusy: this.running.length, waiting: this.waiting.length };
  }

  /** Runs one forward pass over the batch and returns what each request produced. */
  step(): LoopEvent[] {
    while (this.freeSlots.length > 0 && this.waiting.length > 0) {
      const seq = this.waiting.shift()!;
      seq.slot = this.freeSlots.pop()!;
      seq.sampler = this.loaded.makeSampler(seq.sampling, seq.slot);
      this.running.push(seq);
    }
    if (this.running.length === 0) return [];

    // Decode rows first, then prompt chunks with what is left of the token budget.
    const rows: BatchRow[] = [];
    const owners: Sequence[] = [];
    for (const seq of this.running) {
      if (seq.next < 0) continue;
      rows.push({ slot: seq.slot, pos: seq.prompt.length + seq.generated - 1, tokens: Int32Array.of(seq.next), wantLogits: true });
      owners.push(seq);
    }
    let budget = Math.max(this.opts.prefillChunk - rows.length, 1);
    for (const seq of this.running) {
      if (seq.next >= 0 || budget === 0) continue;
      const n = Math.min(budget, seq.prompt.length - seq.prefilled);
      const end = seq.prefilled + n;
      rows.push({ slot: seq.slot, pos: seq.prefilled, tokens: seq.prompt.subarray(seq.prefilled, end), wantLogits: end === seq.prompt.length });
      owners.push(seq);
      budget -= n;
    }

    const events: LoopEvent[] = [];
    let logits: Float32Array;
    try {
      logits = this.loaded.engine.forward(rows);
    } catch (err) {
      // The engine failed (a native error): fail the sequences of this step, keep serving.
      const error: ErrorPayload = { kind: 'internal', message: `tensorloom: forward pass failed: ${(err as Error).message}` };
      for (const seq of owners) {
        events.push({ id: seq.id, kind: 'failed', error });
        this.release(this.running.indexOf(seq));
      }
      return events;
    }

    const vocab = this.loaded.engine.vocabSize;
    let li = 0;
    for (let r = 0; r < rows.length; r++) {
      const seq = owners[r]!;
      const row = rows[r]!;
      if (seq.next < 0) seq.prefilled += row.tokens.length;
      if (!row.wantLogits) continue;
      const row_ = logits.subarray(li * vocab, (li + 1) * vocab);
      if (seq.logitBias) for (const [t, b] of seq.logitBias) row_[t] = b <= -100 ? -Infinity : row_[t]! + b;
      const token = seq.constraint ? this.sampleConstrained(seq, row_) : seq.sampler!(row_, seq.history, seq.prompt.length + seq.generated);
      li++;
      const done = this.accept(seq, token, events);
      if (done) this.release(this.running.indexOf(seq));
    }
    return events;
  }

  /** Records a sampled token; returns true when the sequence is finished. */
  private accept(seq: Sequence, token: number, events: LoopEvent[]): boolean {
    const finish = (reason: FinishReason, text: string): true => {
      events.push({ id: seq.id, kind: 'done', text, finishReason: reason, promptTokens: seq.prompt.length, completionTokens: seq.generated });
      return true;
    };
    if (!seq.ignoreEos && this.eos.has(token)) return finish('stop', seq.text.flush());
    seq.constraint?.accept(token);
    seq.history[seq.prompt.length + seq.generated] = token;
    seq.generated++;
    seq.next = token;
    const text = seq.text.push(token);
    if (seq.text.stopped || seq.constraint?.finished) {
      // a grammar that admits nothing more ends the text, as EOS would
      events.push({ id: seq.id, kind: 'token', token, text: seq.text.stopped ? text : text + seq.text.flush() });
      return finish('stop', '');
    }
    const full =
      (seq.maxTokens !== null && seq.generated >= seq.maxTokens) || seq.prompt.length + seq.generated >= this.loaded.engine.contextLength;
    events.push({ id: seq.id, kind: 'token', token, text: full ? text + seq.text.flush() : text });
    return full ? finish('length', '') : false;
  }

  /** Samples; when the grammar rejects the choice, masks and samples again from the original logits (see Engine). */
  private sampleConstrained(seq: Sequence, row: Float32Array): number {
    const c = seq.constraint!;
    const saved = (this.saved ??= new Float32Array(row.length));
    saved.set(row);
    const length = seq.prompt.length + seq.generated;
    const first = seq.sampler!(row, seq.history, length);
    if (c.allows(first)) return first;
    row.set(saved);
    c.apply(row);
    return seq.sampler!(row, seq.history, length);
  }

  private release(index: number): void {
    const [seq] = this.running.splice(index, 1);
    if (seq) this.freeSlots.push(seq.slot);
  }
}

function reject(id: number, message: string, param: string): LoopEvent {
  return { id, kind: 'rejected', error: { kind: 'request', message: `tensorloom: ${message}`, param } };
}
