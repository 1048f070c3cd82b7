/**
 * Per-token log-probabilities, computed from the logits the sampler was given — no second forward
 * pass. The convention is llama-server's (its default, `post_sampling_probs: false`) and OpenAI's:
 * the log-softmax of the model's own logits for that position, taken before repetition/presence/
 * frequency penalties, logit_bias, grammar masking and temperature. So a token that logit_bias or a
 * grammar forced still reports how likely the model found it, and the numbers do not depend on the
 * sampling settings (greedy and sampled runs report the same value for the same token).
 *
 * `LogprobCapture.capture(row, k)` runs before the sampler (which edits the row in place): one pass
 * for the log-sum-exp in float64, one for the k best tokens; `entry(token)` after it.
 */

/** One alternative at a position. */
export interface TopLogprob {
  token: number;
  /** The token's text (its bytes decoded as UTF-8; a partial character shows as U+FFFD). */
  text: string;
  /** The token's exact bytes. */
  bytes: number[];
  logprob: number;
}

/** The log-probability of a generated token, and the `top` most likely tokens at its position (sorted, most likely first). */
export interface TokenLogprob extends TopLogprob {
  top: TopLogprob[];
}

/** Most alternatives per position (OpenAI's top_logprobs bound). */
export const MAX_TOP_LOGPROBS = 20;

/** What a token's text and bytes are read from: a tokenizer's token table, or its stream decoder. */
export interface PieceSource {
  tokenTable?(): { readonly flat: Uint8Array; readonly offsets: Uint32Array };
  createStreamDecoder(): { push(id: number): string; flush(): string };
}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

/** Token id → its text and bytes, memoised (a vocabulary is looked at a few tokens per step). */
export class TokenPieces {
  private readonly memo = new Map<number, { text: string; bytes: number[] }>();
  private table: { readonly flat: Uint8Array; readonly offsets: Uint32Array } | null | undefined;

  constructor(private readonly source: PieceSource) {}

  of(id: number): { text: string; bytes: number[] } {
    let p = this.memo.get(id);
    if (p) return p;
    if (this.table === undefined) {
      try {
        this.table = this.source.tokenTable?.() ?? null;
      } catch {
        this.table = null;
      }
    }
    if (this.table && id + 1 < this.table.offsets.length) {
      const bytes = this.table.flat.subarray(this.table.offsets[id]!, this.table.offsets[id + 1]!);
      p = { text: utf8.decode(bytes), bytes: Array.from(bytes) };
    } else {
      const dec = this.source.createStreamDecoder();
      const text = dec.push(id) + dec.flush();
      p = { text, bytes: Array.from(encoder.encode(text)) };
    }
    this.memo.set(id, p);
    return p;
  }
}

/** A token and its log-probability, without text (what the serving worker computes before naming pieces). */
export interface RawLogprob {
  token: number;
  logprob: number;
  /** [token, logprob] of the most likely tokens, most likely first (ties: lower id first). */
  top: [number, number][];
}

export class LogprobCapture {
  private readonly raw: Float32Array;
  private lse = 0;
  private k = 0;
  private readonly topIds = new Int32Array(MAX_TOP_LOGPROBS);
  private readonly topVals = new Float64Array(MAX_TOP_LOGPROBS);

  constructor(readonly vocabSize: number) {
    this.raw = new Float32Array(vocabSize);
  }

  /** Keeps `logits` (the model's row, before the sampler edits it), its log-sum-exp and its `top` best tokens. */
  capture(logits: Float32Array, top: number): void {
    if (logits.length !== this.vocabSize) throw new RangeError(`tensorloom: logits has ${logits.length} elements, expected ${this.vocabSize}`);
    if (!Number.isInteger(top) || top < 0 || top > MAX_TOP_LOGPROBS) throw new RangeError(`tensorloom: topLogprobs must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${top}`);
    this.raw.set(logits);
    let max = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
    let sum = 0;
    if (Number.isFinite(max)) for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
    this.lse = Number.isFinite(max) ? max + Math.log(sum) : max;
    // The k largest, kept sorted descending by insertion; a strict > keeps the lower id first on ties.
    const ids = this.topIds;
    const vals = this.topVals;
    let n = 0;
    for (let i = 0; i < logits.length && top > 0; i++) {
      const v = logits[i]!;
      if (n === top && !(v > vals[n - 1]!)) continue;
      let j = n < top ? n++ : n - 1;
      while (j > 0 && v > vals[j - 1]!) {
        vals[j] = vals[j - 1]!;
        ids[j] = ids[j - 1]!;
        j--;
      }
      vals[j] = v;
      ids[j] = i;
    }
    this.k = n;
  }

  /** The log-probability of `token` at the captured position, with the captured alternatives. */
  entry(token: number): RawLogprob {
    const top: [number, number][] = [];
    for (let j = 0; j < this.k; j++) top.push([this.topIds[j]!, this.topVals[j]! - this.lse]);
    return { token, logprob: this.raw[token]! - this.lse, top };
  }
}

/** A RawLogprob with each token's text and bytes. */
export function withPieces(raw: RawLogprob, pieces: TokenPieces): TokenLogprob {
  return {
    token: raw.token,
    ...pieces.of(raw.token),
    logprob: raw.logprob,
    top: raw.top.map(([token, logprob]) => ({ token, ...pieces.of(token), logprob })),
  };
}
