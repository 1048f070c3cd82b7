/**
 * Embeddings and reranking on the current thread: checks the input, tokenizes (with the special
 * tokens the vocabulary asks for: [CLS] … [SEP] for WordPiece), groups texts into packed batches
 * of at most `encoder.maxRows` tokens (one forward pass per batch, whatever the text lengths),
 * pools, and L2-normalizes. The worker (./worker.ts) and the `worker: false` path both call this.
 */
import { AbortError } from '../errors/abort-error.js';
import type { Pooling } from '../models/config.js';
import type { TokenEncoder } from '../models/token-encoder.js';
import type { Tokenizer } from '../tokenizers/types.js';

export interface EmbedOptions {
  /** Default: what the model file declares (mean, CLS or last token); required when it does not say. */
  pooling?: Exclude<Pooling, 'none' | 'rank'>;
  /** L2-normalize each vector. Default true. */
  normalize?: boolean;
  /** Cut texts longer than the context (keeping the final special token) instead of failing. Default false. */
  truncate?: boolean;
  /** Keep only the first `dimensions` components (Matryoshka models), before normalizing. */
  dimensions?: number;
}

export interface EmbedResult {
  vectors: Float32Array[];
  /** Tokens processed (OpenAI's usage.prompt_tokens). */
  tokens: number;
  /** Tokens of each input. */
  counts: number[];
}

/** A text, or token ids already (OpenAI's /v1/embeddings accepts both). */
export type EmbedInput = string | readonly number[];

export class EmbedError extends Error {
  override name = 'EmbedError';
}

const POOLINGS = ['mean', 'cls', 'last'] as const;

export interface EmbedderOptions {
  /**
   * The model's rerank prompt (GGUF `tokenizer.chat_template.rerank`, e.g. Qwen3-Reranker's), with
   * `{query}` and `{document}` placeholders; null: pairs are [BOS] query [EOS] [SEP] document [EOS].
   */
  rerankTemplate?: string | null;
}

export class Embedder {
  private readonly rerankTemplate: string | null;

  constructor(
    readonly encoder: TokenEncoder,
    readonly tokenizer: Tokenizer,
    options: EmbedderOptions = {},
  ) {
    this.rerankTemplate = options.rerankTemplate ?? null;
  }

  /** Longest text in tokens: the model's context (at most one packed batch). */
  get contextLength(): number {
    return Math.min(this.encoder.config.contextLength, this.encoder.maxRows);
  }

  /** Token ids of one input, checked against the context (truncated when asked). */
  tokenize(input: EmbedInput, index: number, truncate: boolean, what = 'input'): Int32Array {
    let ids: Int32Array;
    if (typeof input === 'string') {
      if (input.length === 0) throw new EmbedError(`input[${index}] is an empty string`);
      ids = Int32Array.from(this.tokenizer.encode(input));
    } else if (Array.isArray(input)) {
      if (input.length === 0) throw new EmbedError(`input[${index}] is an empty token array`);
      const V = this.encoder.config.vocabSize;
      for (const [j, t] of input.entries()) {
        if (!Number.isInteger(t) || t < 0 || t >= V) throw new EmbedError(`input[${index}][${j}] = ${JSON.stringify(t)} is not a token id in [0, ${V})`);
      }
      ids = Int32Array.from(input);
    } else {
      throw new EmbedError(`input[${index}] must be a string or an array of token ids, got ${input === null ? 'null' : typeof input}`);
    }
    const ctx = this.contextLength;
    if (ids.length > ctx) {
      if (!truncate) throw new EmbedError(`${what}[${index}] has ${ids.length} tokens, more than the model's context of ${ctx}; shorten it or pass truncate: true`);
      const last = ids[ids.length - 1]!;
      ids = ids.slice(0, ctx);
      if (typeof input === 'string' && this.tokenizer.isSpecial(last)) ids[ctx - 1] = last; // keep [SEP] / </s>
    }
    return ids;
  }

  /** The pooling to use: the caller's, else the file's; a clear error when neither says. */
  pooling(requested: EmbedOptions['pooling']): Pooling {
    if (requested !== undefined) {
      if (!(POOLINGS as readonly string[]).includes(requested)) throw new EmbedError(`pooling must be one of ${POOLINGS.join(', ')}, got ${JSON.stringify(requested)}`);
      return requested;
    }
    const p = this.encoder.defaultPooling;
    if (p === null || p === 'none') {
      throw new EmbedError(`the model file does not say how to pool token vectors into one; pass { pooling: 'mean' | 'cls' | 'last' }`);
    }
    if (p === 'rank') throw new EmbedError('this model is a reranker (rank pooling): use rank(query, documents), or pass a pooling to embed with it');
    return p;
  }

  /** Runs tokenized texts in packed batches; `pool` picks each text's output. */
  private run(ids: Int32Array[], pooling: Pooling, aborted?: () => boolean): Float32Array[] {
    const out: Float32Array[] = new Array(ids.length);
    const max = this.encoder.maxRows;
    for (let i = 0; i < ids.length; ) {
      if (aborted?.()) throw new AbortError('tensorloom: the embedding was aborted');
      let n = 0;
      let j = i;
      while (j < ids.length && (j === i || n + ids[j]!.length <= max)) n += ids[j++]!.length;
      const bounds = new Int32Array(j - i + 1);
      const tokens = new Int32Array(n);
      for (let k = i; k < j; k++) {
        tokens.set(ids[k]!, bounds[k - i]!);
        bounds[k - i + 1] = bounds[k - i]! + ids[k]!.length;
      }
      const pooled = this.encoder.pool(this.encoder.hidden(tokens, bounds), bounds, pooling);
      for (let k = i; k < j; k++) out[k] = pooled[k - i]!;
      i = j;
    }
    return out;
  }

  embed(input: EmbedInput | readonly EmbedInput[], options: EmbedOptions = {}, aborted?: () => boolean): EmbedResult {
    const list = checkInputs(input);
    const pooling = this.pooling(options.pooling);
    const normalize = options.normalize ?? true;
    if (typeof normalize !== 'boolean') throw new EmbedError('normalize must be a boolean');
    const dim = this.encoder.config.dim;
    const dims = options.dimensions;
    if (dims !== undefined && (!Number.isInteger(dims) || dims < 1 || dims > dim)) throw new EmbedError(`dimensions must be an integer in [1, ${dim}], got ${JSON.stringify(dims)}`);
    const ids = list.map((t, i) => this.tokenize(t, i, options.truncate === true));
    const vectors = this.run(ids, pooling, aborted).map((v) => {
      const w = dims !== undefined && dims < v.length ? v.slice(0, dims) : v;
      return normalize ? l2normalize(w) : w;
    });
    return { vectors, tokens: ids.reduce((n, a) => n + a.length, 0), counts: ids.map((a) => a.length) };
  }

  /**
   * Relevance scores of `documents` for `query` with a reranker (rank pooling: the classification
   * head's first output). Each pair is the model's rerank template with {query} and {document}
   * filled in (its markup parsed as special tokens, the texts not), or else [BOS/CLS] query [EOS]
   * [SEP] document [EOS] with the tokens the vocabulary has, as llama-server builds rerank inputs.
   * Raw logits, or log-odds for decoder rerankers (apply a sigmoid for a probability).
   */
  rank(query: string, documents: readonly string[], options: { truncate?: boolean } = {}, aborted?: () => boolean): { scores: number[]; tokens: number } {
    return this.rankGroups([{ query, documents }], options, aborted)[0]!;
  }

  /**
   * rank() for several queries at once (the server's concurrent /v1/rerank requests): every pair of
   * every group goes through the same packed forward passes. All groups are checked before any runs.
   */
  rankGroups(groups: readonly { query: string; documents: readonly string[] }[], options: { truncate?: boolean } = {}, aborted?: () => boolean): { scores: number[]; tokens: number }[] {
    if (this.encoder.defaultPooling !== 'rank') throw new EmbedError(`this model is not a reranker (its pooling is ${this.encoder.defaultPooling ?? 'not declared'}); rank() needs a cross-encoder with a classification head`);
    const perGroup = groups.map((g) => this.pairIds(g.query, g.documents, options.truncate === true));
    const out = this.run(perGroup.flat(), 'rank', aborted);
    let at = 0;
    return perGroup.map((ids) => {
      const scores = out.slice(at, at + ids.length).map((v) => v[0]!);
      at += ids.length;
      return { scores, tokens: ids.reduce((n, a) => n + a.length, 0) };
    });
  }

  /** Token ids of each (query, document) pair, as llama-server builds rerank inputs. */
  private pairIds(query: string, documents: readonly string[], truncate: boolean): Int32Array[] {
    if (typeof query !== 'string' || query.length === 0) throw new EmbedError('query must be a non-empty string');
    const docs = checkInputs(documents as readonly EmbedInput[]);
    for (const [i, d] of docs.entries()) if (typeof d !== 'string' || d.length === 0) throw new EmbedError(`documents[${i}] must be a non-empty string`);
    const template = this.rerankTemplate;
    if (template !== null) return docs.map((d, i) => this.tokenize(Array.from(this.fillTemplate(template, query, d as string)), i, truncate, 'documents'));
    const s = this.tokenizer.specialIds;
    const bos = s.bos ?? s.cls;
    const eos = s.eos;
    const sep = s.sep;
    if (eos === undefined && sep === undefined) throw new EmbedError('the vocabulary has no EOS or SEP token to separate query and document, and the model has no rerank template');
    const plain = (t: string) => Array.from(this.tokenizer.encode(t, { addSpecialTokens: false }));
    const q = plain(query);
    return docs.map((d, i) => {
      const parts = [...(bos !== undefined ? [bos] : []), ...q, ...(eos !== undefined ? [eos] : []), ...(sep !== undefined ? [sep] : []), ...plain(d as string), ...(eos !== undefined ? [eos] : [])];
      return this.tokenize(parts, i, truncate, 'documents');
    });
  }

  /** Token ids of the rerank template with query and document in place (their text never read as markup). */
  private fillTemplate(template: string, query: string, document: string): Uint32Array {
    let text = '';
    const data: [number, number][] = [];
    for (const part of template.split(/(\{query\}|\{document\})/)) {
      if (part === '{query}' || part === '{document}') {
        const v = part === '{query}' ? query : document;
        data.push([text.length, text.length + v.length]);
        text += v;
      } else text += part;
    }
    return this.tokenizer.encode(text, { addSpecialTokens: false, parseSpecial: true, literalSpans: data });
  }
}

function checkInputs(input: unknown): EmbedInput[] {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input)) throw new EmbedError(`input must be a string or an array of strings (or of token arrays), got ${input === null ? 'null' : typeof input}`);
  if (input.length === 0) throw new EmbedError('input is an empty array');
  // an array of numbers is ONE tokenized input
  if (input.every((x) => typeof x === 'number')) return [input as number[]];
  for (const [i, x] of input.entries()) {
    if (typeof x !== 'string' && !Array.isArray(x)) throw new EmbedError(`input[${i}] must be a string or an array of token ids, got ${x === null ? 'null' : typeof x}`);
  }
  return input as EmbedInput[];
}

function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i]! * inv;
  return out;
}
