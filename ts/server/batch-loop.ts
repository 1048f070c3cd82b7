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
 *
 * A request for n > 1 choices waits until n slots are free, then runs its prompt once in the first
 * slot; the step that yields the prompt's last logits copies that slot's KV prefix into the other
 * n − 1 (the engine's `copySlot`), and each choice samples its first token from the same logits
 * with its own sampler (seed + i), then decodes on its own. An engine without `copySlot` runs the
 * prompt in every slot instead (same output, more compute).
 *
 * Prompt caching: a slot's cache keeps what its last sequence ran (prompt and output) until the
 * slot is reused. A new request takes the free slot whose held tokens share the longest prefix
 * with its prompt (if over a tenth of it; else the least recently used slot) and, where the engine
 * can resume there (`resumeAt`), starts its prefill after that prefix: a repeated system prompt, or
 * a chat's earlier turns, run once. The last prompt token always runs, for its logits.
 */
import type { TemplatedText } from '../chat/types.js';
import { LogprobCapture, TokenPieces, withPieces, type TokenLogprob } from '../generate/logprobs.js';
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
  /** Choices to generate from the prompt (default 1); choice i samples with seed + i. */
  n?: number;
  /** Report each token's log-probability with this many alternatives (ts/generate/logprobs.ts); absent: none. */
  topLogprobs?: number;
}

export type FinishReason = 'stop' | 'length';

/** Emitted per request: per step at most one `token`, then `done` when it finishes. `done.text` is held-back text, if any. */
export type LoopEvent =
  | { id: number; kind: 'accepted'; promptTokens: number }
  | { id: number; kind: 'rejected'; error: ErrorPayload }
  | { id: number; kind: 'token'; token: number; text: string; choice?: number; logprob?: TokenLogprob }
  | { id: number; kind: 'done'; text: string; finishReason: FinishReason; promptTokens: number; cachedPromptTokens: number; completionTokens: number; choice?: number }
  | { id: number; kind: 'failed'; error: ErrorPayload };

interface Sequence {
  id: number;
  prompt: Int32Array;
  /** Prompt tokens already in the slot's cache. */
  prefilled: number;
  /** Of those, the ones the slot's cache held when the sequence took it (prompt caching: not run). */
  cached: number;
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
  /** Which of the request's n choices this is. */
  choice: number;
  /** Choice 0 of an n > 1 request that forks its prompt: the other choices (they wait in `running` until the fork). */
  siblings: Sequence[];
  /** A sibling waiting for choice 0's prompt: it runs no rows until the fork copies the prefix into its slot. */
  awaitingFork: boolean;
  /** Alternatives per token when logprobs are reported; null: not reported. */
  topLogprobs: number | null;
}

export interface BatchLoopOptions {
  /** Most prompt tokens fed in one step, shared by all sequences in prefill. */
  prefillChunk: number;
  /** Resume a prompt after the prefix a free slot still holds (see above). Default true. */
  promptCache?: boolean;
}

/** What a slot's cache holds: the first `length` tokens of `tokens`. */
interface HeldTokens {
  tokens: Int32Array;
  length: number;
}
const NOTHING_HELD: HeldTokens = { tokens: new Int32Array(0), length: 0 };
/** A free slot's cached prefix is reused when it is over this fraction of the prompt (llama-server's --slot-prompt-similarity default). */
const kSlotSimilarity = 0.1;

export class BatchLoop {
  private readonly waiting: Sequence[] = [];
  /** Sequences holding a slot, in admission order. */
  private readonly running: Sequence[] = [];
  private readonly freeSlots: number[];
  /** Per slot, the tokens its cache holds from the sequence that ran there last (prompt caching). */
  private readonly held: HeldTokens[];
  /** Per slot, when it was last released (a count of releases; 0: never used): the least recent goes first. */
  private readonly releasedAt: number[];
  private releases = 0;
  private readonly eos: Set<number>;
  private saved: Float32Array | undefined;
  /** The raw logits row of a forking prompt, which every choice samples from. */
  private forkRow: Float32Array | undefined;
  private capture: LogprobCapture | undefined;
  private readonly pieces: TokenPieces;
  /** Prompt tokens run through the model so far (a forked prompt counts once). */
  private promptTokensRun = 0;

  constructor(
    private readonly loaded: LoadedEngine,
    private readonly opts: BatchLoopOptions,
  ) {
    this.freeSlots = Array.from({ length: loaded.engine.slots }, (_, i) => loaded.engine.slots - 1 - i);
    this.held = Array.from({ length: loaded.engine.slots }, () => NOTHING_HELD);
    this.releasedAt = Array.from({ length: loaded.engine.slots }, () => 0);
    this.eos = new Set(loaded.tokenizer.eosIds);
    const tok = loaded.tokenizer;
    this.pieces = new TokenPieces({ ...(tok.tokenTable ? { tokenTable: () => tok.tokenTable!() } : {}), createStreamDecoder: () => tok.createStreamDecoder() });
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
    const encdec = engine.encoderDecoder;
    if (encdec && ids.length > encdec.maxSource) {
      return reject(id, `the source is ${ids.length} tokens but the encoder's context is ${encdec.maxSource}; shorten it`, 'prompt');
    }
    if (encdec && req.maxTokens !== null && req.maxTokens > encdec.maxTarget) {
      return reject(id, `max_tokens ${req.maxTokens} exceeds the decoder's context of ${encdec.maxTarget} positions; ask for at most ${encdec.maxTarget}`, 'max_tokens');
    }
    const n = req.n ?? 1;
    if (!Number.isInteger(n) || n < 1 || n > engine.slots) return reject(id, `n is ${n}, but this server runs at most ${engine.slots} sequences at once (its parallel slots); ask for n in [1, ${engine.slots}]`, 'n');
    const top = req.topLogprobs;
    if (top !== undefined && !(Number.isInteger(top) && top >= 0 && top <= 20)) return reject(id, `top_logprobs must be an integer in [0, 20]; got ${top}`, 'top_logprobs');
    const texts: TextStream[] = [];
    try {
      for (let i = 0; i < n; i++) texts.push(new TextStream(tokenizer, encdec ? [] : ids, req.stop)); // a source is no prefix of the output
    } catch (err) {
      return reject(id, `the prompt could not be decoded: ${(err as Error).message.replace(/^tensorloom: /, '')}`, 'prompt');
    }
    const badBias = req.logitBias?.find(([t]) => t >= engine.vocabSize);
    if (badBias) return reject(id, `logit_bias names token ${badBias[0]}, outside the vocabulary of ${engine.vocabSize} tokens`, 'logit_bias');
    const constraints: (GrammarConstraint | null)[] = texts.map(() => null);
    if (req.grammar !== undefined) {
      const table = tokenizer.tokenTable?.();
      if (!table) return reject(id, 'this engine does not support grammar-constrained output', 'response_format');
      try {
        const compiled = compileGrammar(req.grammar, table);
        for (let i = 0; i < n; i++) constraints[i] = compiled.start(tokenizer.eosIds);
      } catch (err) {
        return reject(id, `the grammar could not be compiled: ${(err as Error).message}`, 'grammar');
      }
    }
    const prompt = Int32Array.from(ids);
    const fork = n > 1 && typeof engine.copySlot === 'function';
    const choices = texts.map((text, choice): Sequence => {
      const history = new Int32Array(req.maxTokens === null ? ctx : ids.length + req.maxTokens);
      history.set(ids);
      return {
        id,
        prompt,
        prefilled: 0,
        cached: 0,
        history,
        sampling: choiceSampling(req.sampling, choice),
        generated: 0,
        maxTokens: req.maxTokens,
        ignoreEos: req.ignoreEos ?? false,
        sampler: null,
        logitBias: req.logitBias ?? null,
        text,
        slot: -1,
        next: -1,
        constraint: constraints[choice]!,
        choice,
        siblings: [],
        awaitingFork: fork && choice > 0,
        topLogprobs: top ?? null,
      };
    });
    if (fork) {
      choices[0]!.siblings = choices.slice(1);
      this.waiting.push(choices[0]!);
    } else this.waiting.push(...choices);
    return { id, kind: 'accepted', promptTokens: ids.length };
  }

  /** Drops a request (all its choices) wherever it is; its slots are free for the next step. */
  cancel(id: number): void {
    for (let w = this.waiting.length - 1; w >= 0; w--) if (this.waiting[w]!.id === id) this.waiting.splice(w, 1);
    for (let r = this.running.length - 1; r >= 0; r--) if (this.running[r]!.id === id) this.release(r);
  }

  hasWork(): boolean {
    return this.running.length > 0 || this.waiting.length > 0;
  }

  stats(): { slots: number; slotsBusy: number; waiting: number; promptTokensRun: number } {
    return { slots: this.loaded.engine.slots, slotsBusy: this.running.length, waiting: this.waiting.length, promptTokensRun: this.promptTokensRun };
  }

  /** Runs one forward pass over the batch and returns what each request produced. */
  step(): LoopEvent[] {
    // FIFO: a request forking n choices waits at the head until n slots are free together.
    while (this.waiting.length > 0 && this.freeSlots.length >= 1 + this.waiting[0]!.siblings.length) {
      const seq = this.waiting.shift()!;
      for (const s of [seq, ...seq.siblings]) {
        s.slot = s === seq ? this.takeSlot(seq) : this.takeSiblingSlot(); // the siblings get the prompt by the fork
        this.held[s.slot] = NOTHING_HELD; // its cache changes from here
        s.sampler = this.loaded.makeSampler(s.sampling, s.slot);
        this.running.push(s);
      }
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
      if (seq.next >= 0 || seq.awaitingFork || budget === 0) continue;
      const n = Math.min(budget, seq.prompt.length - seq.prefilled);
      const end = seq.prefilled + n;
      rows.push({ slot: seq.slot, pos: seq.prefilled, tokens: seq.prompt.subarray(seq.prefilled, end), wantLogits: end === seq.prompt.length });
      owners.push(seq);
      budget -= n;
      this.promptTokensRun += n;
    }

    const events: LoopEvent[] = [];
    let logits: Float32Array;
    try {
      logits = this.loaded.engine.forward(rows);
    } catch (err) {
      // The engine failed (a native error): fail the sequences of this step, keep serving.
      const error: ErrorPayload = { kind: 'internal', message: `tensorloom: forward pass failed: ${(err as Error).message}` };
      for (const id of new Set(owners.map((s) => s.id))) {
        events.push({ id, kind: 'failed', error });
        this.cancel(id); // every choice of the request, forked or waiting for the fork
      }
      for (const s of owners) this.held[s.slot] = NOTHING_HELD; // a pass that failed midway left those caches unknown
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
      li++;
      // Log-probabilities are of the model's own row: captured before bias, grammar and the sampler edit it.
      if (seq.topLogprobs !== null) (this.capture ??= new LogprobCapture(vocab)).capture(row_, seq.topLogprobs);
      if (seq.next < 0 && seq.siblings.length > 0) {
        this.fork(seq, row_, events);
        continue;
      }
      if (this.sampleAndAccept(seq, row_, events)) this.release(this.running.indexOf(seq));
    }
    return events;
  }

  /**
   * Choice 0's prompt has run: its KV prefix goes to every other choice still waiting for it, and
   * each samples its first token from the same logits (the row is restored before every draw).
   */
  private fork(leader: Sequence, row: Float32Array, events: LoopEvent[]): void {
    const forks = leader.siblings.filter((s) => s.awaitingFork && this.running.includes(s));
    const raw = (this.forkRow ??= new Float32Array(row.length));
    raw.set(row);
    for (const s of forks) {
      this.loaded.engine.copySlot!(leader.slot, s.slot, leader.prompt.length);
      s.prefilled = s.prompt.length;
      s.awaitingFork = false;
    }
    const finished: Sequence[] = [];
    for (const s of [leader, ...forks]) {
      row.set(raw);
      if (this.sampleAndAccept(s, row, events)) finished.push(s);
    }
    for (const s of finished) this.release(this.running.indexOf(s));
  }

  /** Bias, sample, and record one token of `seq` from `row` (which it edits); true when the sequence is finished. */
  private sampleAndAccept(seq: Sequence, row: Float32Array, events: LoopEvent[]): boolean {
    if (seq.logitBias) for (const [t, b] of seq.logitBias) row[t] = b <= -100 ? -Infinity : row[t]! + b;
    const token = seq.constraint ? this.sampleConstrained(seq, row) : seq.sampler!(row, seq.history, seq.prompt.length + seq.generated);
    const logprob = seq.topLogprobs !== null ? withPieces(this.capture!.entry(token), this.pieces) : undefined;
    return this.accept(seq, token, events, logprob);
  }

  /** Records a sampled token; returns true when the sequence is finished. */
  private accept(seq: Sequence, token: number, events: LoopEvent[], logprob: TokenLogprob | undefined): boolean {
    const choice = seq.choice > 0 ? { choice: seq.choice } : {};
    const finish = (reason: FinishReason, text: string): true => {
      events.push({ id: seq.id, kind: 'done', text, finishReason: reason, promptTokens: seq.prompt.length, cachedPromptTokens: seq.cached, completionTokens: seq.generated, ...choice });
      return true;
    };
    const token_ = (text: string): void => {
      events.push({ id: seq.id, kind: 'token', token, text, ...choice, ...(logprob ? { logprob } : {}) });
    };
    if (!seq.ignoreEos && this.eos.has(token)) return finish('stop', seq.text.flush());
    seq.constraint?.accept(token);
    seq.history[seq.prompt.length + seq.generated] = token;
    seq.generated++;
    seq.next = token;
    const text = seq.text.push(token);
    if (seq.text.stopped || seq.constraint?.finished) {
      // a grammar that admits nothing more ends the text, as EOS would
      token_(seq.text.stopped ? text : text + seq.text.flush());
      return finish('stop', '');
    }
    const engine = this.loaded.engine;
    const full =
      (seq.maxTokens !== null && seq.generated >= seq.maxTokens) ||
      seq.prompt.length + seq.generated >= engine.contextLength ||
      (engine.encoderDecoder !== undefined && seq.generated >= engine.encoderDecoder.maxTarget);
    token_(full ? text + seq.text.flush() : text);
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

  private get caching(): boolean {
    return this.loaded.engine.resumeAt !== undefined && this.opts.promptCache !== false;
  }

  /**
   * A free slot for `seq`. With prompt caching, llama-server's rule: the slot whose held tokens
   * share the longest prefix with the prompt (at most all but its last token), if that prefix is
   * over a tenth of the prompt; otherwise the least recently used slot (never used first), so that
   * a short common start (a BOS, a chat template's header) does not evict another conversation's
   * cache while an older one is free. The prefill starts after the prefix the chosen slot shares,
   * as far as the engine can resume. Without caching: the slot freed last (a lightly loaded server
   * keeps writing the same slots' memory).
   */
  private takeSlot(seq: Sequence): number {
    if (!this.caching) return this.freeSlots.pop()!;
    const shared = (slot: number): number => {
      const h = this.held[slot]!;
      const end = Math.min(h.length, seq.prompt.length - 1);
      let n = 0;
      while (n < end && h.tokens[n] === seq.prompt[n]) n++;
      return n;
    };
    const prefix = this.freeSlots.map(shared);
    // the longest shared prefix, the least recently used slot among equals
    const lru = this.leastRecentFree();
    let pick = lru;
    for (let i = 0; i < prefix.length; i++) if (prefix[i]! > prefix[pick]! || (prefix[i] === prefix[pick] && this.olderFree(i, pick))) pick = i;
    if (prefix[pick]! <= kSlotSimilarity * seq.prompt.length) pick = lru;
    const n = prefix[pick]!;
    const slot = this.freeSlots.splice(pick, 1)[0]!;
    if (n > 0) seq.prefilled = seq.cached = this.loaded.engine.resumeAt!(slot, n);
    return slot;
  }

  /** A slot for a choice that gets its prompt by the fork: the least recently used with caching, else the last freed. */
  private takeSiblingSlot(): number {
    return this.caching ? this.freeSlots.splice(this.leastRecentFree(), 1)[0]! : this.freeSlots.pop()!;
  }

  /** The index in freeSlots of the slot released longest ago (never used first). */
  private leastRecentFree(): number {
    let lru = 0;
    for (let i = 1; i < this.freeSlots.length; i++) if (this.olderFree(i, lru)) lru = i;
    return lru;
  }

  /** Whether free slot i (an index in freeSlots) was released before free slot j. */
  private olderFree(i: number, j: number): boolean {
    return this.releasedAt[this.freeSlots[i]!]! < this.releasedAt[this.freeSlots[j]!]!;
  }

  private release(index: number): void {
    const [seq] = this.running.splice(index, 1);
    if (!seq) return;
    // the cache holds the prompt tokens run so far, then every output token but the last (never fed)
    this.held[seq.slot] = { tokens: seq.history, length: seq.prefilled + Math.max(0, seq.generated - 1) };
    this.releasedAt[seq.slot] = ++this.releases;
    this.freeSlots.push(seq.slot);
  }
}

/** Choice i of a seeded request samples with seed + i (mod 2^53): reproducible, and choice 0 is the single request. */
function choiceSampling(sampling: SamplingParams, choice: number): SamplingParams {
  if (choice === 0 || sampling.seed === undefined) return sampling;
  return { ...sampling, seed: (sampling.seed + choice) % 2 ** 53 };
}

function reject(id: number, message: string, param: string): LoopEvent {
  return { id, kind: 'rejected', error: { kind: 'request', message: `tensorloom: ${message}`, param } };
}
