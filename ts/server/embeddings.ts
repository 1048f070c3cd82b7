/**
 * The HTTP endpoints of embedding models and rerankers:
 *
 *   POST /v1/embeddings   OpenAI shape: { input: string | string[] | number[] | number[][],
 *                         encoding_format?: 'float' | 'base64', dimensions?, model? }
 *                         → { object: 'list', data: [{ object: 'embedding', index, embedding }], model, usage }
 *   POST /v1/rerank       llama-server / Jina shape: { query, documents: string[], top_n?, return_documents? }
 *                         → { object: 'list', model, results: [{ index, relevance_score, document? }], usage }
 *   GET  /v1/models       the model card, with `endpoints` saying which of these it serves
 *   GET  /health
 *
 * Requests that arrive while the model is busy are batched: the texts of every waiting
 * /v1/embeddings request (with the same pooling) go through the model as one call — one set of
 * packed forward passes — and each request gets its own vectors back (then truncated to
 * `dimensions` and normalized, per request); waiting /v1/rerank requests likewise share one
 * rankGroups call.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EmbedError, type EmbedInput, type EmbedResult } from '../embed/embedder.js';
import { loadEmbeddingModel, type EmbeddingModel, type LoadEmbeddingModelOptions } from '../embed/model.js';
import { RequestError, UnavailableError } from './errors.js';
import { parseBody, sendError, sendJson } from './http.js';
import { readBody } from './read-body.js';

export interface EmbeddingServeOptions extends Omit<LoadEmbeddingModelOptions, 'worker'> {
  /** Model file or directory, or a model from loadEmbeddingModel() (then not closed by close()). */
  model: string | EmbeddingModel;
  modelId?: string;
  /** Largest request body accepted, in bytes (413 above). Default 4 MiB. */
  maxBodyBytes?: number;
  /** Most texts (or rerank pairs) in one batched call across requests. Default 256. */
  maxBatchTexts?: number;
}

export interface EmbeddingServeHandler {
  (req: IncomingMessage, res: ServerResponse): void;
  readonly model: EmbeddingModel;
  readonly inFlight: number;
  close(): Promise<void>;
}

interface Pending {
  inputs: EmbedInput[];
  pooling: 'mean' | 'cls' | 'last' | undefined;
  resolve: (r: EmbedResult) => void;
  reject: (e: Error) => void;
}

/** Coalesces concurrent embed requests into one model call per pooling kind. */
export class EmbedBatcher {
  private waiting: Pending[] = [];
  private running = false;
  constructor(
    private readonly model: EmbeddingModel,
    private readonly maxTexts: number,
  ) {}

  submit(inputs: EmbedInput[], pooling: Pending['pooling']): Promise<EmbedResult> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ inputs, pooling, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const first = this.waiting[0]!;
        const batch: Pending[] = [];
        let texts = 0;
        this.waiting = this.waiting.filter((p) => {
          if (p.pooling !== first.pooling || (batch.length > 0 && texts + p.inputs.length > this.maxTexts)) return true;
          batch.push(p);
          texts += p.inputs.length;
          return false;
        });
        try {
          const all = batch.flatMap((p) => p.inputs);
          const r = await this.model.embedWithUsage(all, { normalize: false, ...(first.pooling ? { pooling: first.pooling } : {}) });
          let at = 0;
          for (const p of batch) {
            const n = p.inputs.length;
            const counts = r.counts.slice(at, at + n);
            p.resolve({ vectors: r.vectors.slice(at, at + n), counts, tokens: counts.reduce((a, b) => a + b, 0) });
            at += n;
          }
        } catch (err) {
          // one bad request must not fail the others: retry them one by one
          if (batch.length === 1) batch[0]!.reject(err as Error);
          else for (const p of batch) this.model.embedWithUsage(p.inputs, { normalize: false, ...(p.pooling ? { pooling: p.pooling } : {}) }).then(p.resolve, p.reject);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** Coalesces concurrent /v1/rerank requests into one model call (all their pairs packed together). */
export class RankBatcher {
  private waiting: { query: string; documents: string[]; resolve: (r: { scores: number[]; tokens: number }) => void; reject: (e: Error) => void }[] = [];
  private running = false;
  constructor(
    private readonly model: EmbeddingModel,
    private readonly maxPairs: number,
  ) {}

  submit(query: string, documents: string[]): Promise<{ scores: number[]; tokens: number }> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ query, documents, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        let pairs = 0;
        let n = 0;
        while (n < this.waiting.length && (n === 0 || pairs + this.waiting[n]!.documents.length <= this.maxPairs)) pairs += this.waiting[n++]!.documents.length;
        const batch = this.waiting.splice(0, n);
        try {
          const results = await this.model.rankGroups(batch);
          batch.forEach((p, i) => p.resolve(results[i]!));
        } catch (err) {
          // one bad request must not fail the others: retry them one by one
          if (batch.length === 1) batch[0]!.reject(err as Error);
          else for (const p of batch) this.model.rankWithUsage(p.query, p.documents).then(p.resolve, p.reject);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

/** OpenAI's `input`: a string, an array of strings, one token array, or an array of token arrays. */
function parseInput(v: unknown): EmbedInput[] {
  if (v === '') throw new RequestError("'input' is an empty string", 'input');
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v)) throw new RequestError(`'input' must be a string, an array of strings, or token arrays; got ${v === null ? 'null' : typeof v}`, 'input');
  if (v.length === 0) throw new RequestError("'input' is an empty array", 'input');
  if (v.every((x) => typeof x === 'number')) return [v as number[]];
  return v.map((x, i) => {
    if (typeof x === 'string') {
      if (x.length === 0) throw new RequestError(`'input[${i}]' is an empty string`, 'input');
      return x;
    }
    if (Array.isArray(x) && x.every((t) => typeof t === 'number')) {
      if (x.length === 0) throw new RequestError(`'input[${i}]' is an empty token array`, 'input');
      return x as number[];
    }
    throw new RequestError(`'input[${i}]' must be a string or an array of token ids, got ${x === null ? 'null' : Array.isArray(x) ? 'a mixed array' : typeof x}`, 'input');
  });
}

function l2(v: Float32Array, dims: number | undefined): Float32Array {
  const w = dims !== undefined && dims < v.length ? v.slice(0, dims) : v;
  let s = 0;
  for (const x of w) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return w.map((x) => x * inv);
}

function asRequestError(err: unknown): Error {
  return err instanceof EmbedError ? new RequestError(err.message, /^(input|documents|query)\b/.exec(err.message)?.[1] ?? null) : (err as Error);
}

/** The /v1/embeddings handler body → response (exported for the generative server's hook and tests). */
export async function embeddingsResponse(model: EmbeddingModel, batcher: EmbedBatcher | null, modelId: string, body: Record<string, unknown>): Promise<unknown> {
  const inputs = parseInput(body.input);
  const format = body.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') throw new RequestError(`'encoding_format' must be 'float' or 'base64', got ${JSON.stringify(format)}`, 'encoding_format');
  const dim = model.info.embedding?.dimensions ?? model.info.config.dim;
  const dims = body.dimensions;
  if (dims !== undefined && (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1 || dims > dim)) {
    throw new RequestError(`'dimensions' must be an integer in [1, ${dim}], got ${JSON.stringify(dims)}`, 'dimensions');
  }
  const pooling = body.pooling;
  if (pooling !== undefined && pooling !== 'mean' && pooling !== 'cls' && pooling !== 'last') throw new RequestError(`'pooling' must be 'mean', 'cls' or 'last'`, 'pooling');
  let r: EmbedResult;
  try {
    r = batcher ? await batcher.submit(inputs, pooling) : await model.embedWithUsage(inputs, { normalize: false, ...(pooling ? { pooling } : {}) });
  } catch (err) {
    throw asRequestError(err);
  }
  const tokens = r.tokens; // this request's tokens only, even when batched with others
  const data = r.vectors.map((v, index) => {
    const e = l2(v, dims as number | undefined);
    return { object: 'embedding', index, embedding: format === 'base64' ? Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') : Array.from(e) };
  });
  return { object: 'list', data, model: modelId, usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

/** The /v1/rerank handler body → response. */
export async function rerankResponse(model: EmbeddingModel, modelId: string, body: Record<string, unknown>, batcher: RankBatcher | null = null): Promise<unknown> {
  if (!model.info.capabilities.rank) throw new RequestError(`the model '${modelId}' is not a reranker (no classification head / rank pooling); use /v1/embeddings`, 'model');
  const query = body.query;
  if (typeof query !== 'string' || query.length === 0) throw new RequestError("'query' must be a non-empty string", 'query');
  const docs = body.documents;
  if (!Array.isArray(docs) || docs.length === 0) throw new RequestError("'documents' must be a non-empty array of strings", 'documents');
  const texts = docs.map((d, i) => {
    const t = typeof d === 'string' ? d : d && typeof d === 'object' && typeof (d as { text?: unknown }).text === 'string' ? (d as { text: string }).text : undefined;
    if (t === undefined || t.length === 0) throw new RequestError(`'documents[${i}]' must be a non-empty string`, 'documents');
    return t;
  });
  const topN = body.top_n ?? texts.length;
  if (typeof topN !== 'number' || !Number.isInteger(topN) || topN < 1) throw new RequestError("'top_n' must be a positive integer", 'top_n');
  let r: { scores: number[]; tokens: number };
  try {
    r = batcher ? await batcher.submit(query, texts) : await model.rankWithUsage(query, texts);
  } catch (err) {
    throw asRequestError(err);
  }
  const results = r.scores
    .map((s, index) => ({ index, relevance_score: s, ...(body.return_documents === true ? { document: { text: texts[index] } } : {}) }))
    .sort((a, b) => b.relevance_score - a.relevance_score)
    .slice(0, topN);
  return { object: 'list', model: modelId, results, usage: { prompt_tokens: r.tokens, total_tokens: r.tokens } };
}

/** A request handler serving an embedding model (or reranker). */
export async function createEmbeddingServer(opts: EmbeddingServeOptions): Promise<EmbeddingServeHandler> {
  const owned = typeof opts.model === 'string';
  const { model: m, modelId: id, maxBodyBytes, maxBatchTexts, ...load } = opts;
  const model = typeof m === 'string' ? await loadEmbeddingModel(m, load) : m;
  const modelId = id ?? model.info.path.split(/[\\/]/).filter(Boolean).pop()!;
  const maxBody = maxBodyBytes ?? 4 << 20;
  const batcher = new EmbedBatcher(model, maxBatchTexts ?? 256);
  const rankBatcher = new RankBatcher(model, maxBatchTexts ?? 256);
  const endpoints = model.info.capabilities.rank ? ['/v1/rerank'] : ['/v1/embeddings'];
  const created = Math.floor(Date.now() / 1000);
  const card = () => ({ id: modelId, object: 'model', created, owned_by: 'tensorloom', context_length: model.info.contextLength, dimensions: model.info.embedding?.dimensions ?? model.info.config.dim, endpoints });
  let inFlight = 0;
  let closing = false;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const allow = (want: string): void => {
      if (method === want || (want === 'GET' && method === 'HEAD')) return;
      res.setHeader('Allow', want === 'GET' ? 'GET, HEAD' : want);
      throw new RequestError(`${method} is not allowed on ${path}; use ${want}`, null, 405, 'method_not_allowed');
    };
    switch (path) {
      case '/health':
        allow('GET');
        return sendJson(res, closing ? 503 : 200, { status: closing ? 'draining' : 'ok', model: modelId });
      case '/v1/models':
        allow('GET');
        return sendJson(res, 200, { object: 'list', data: [card()] });
      case `/v1/models/${modelId}`:
        allow('GET');
        return sendJson(res, 200, card());
      case '/v1/embeddings':
      case '/v1/rerank': {
        allow('POST');
        if (closing) throw new UnavailableError('tensorloom: the server is shutting down and takes no new requests');
        const body = parseBody(await readBody(req, { limit: maxBody, totalMs: 30_000, idleMs: 10_000 }));
        if (path === '/v1/rerank') return sendJson(res, 200, await rerankResponse(model, modelId, body, rankBatcher));
        if (model.info.capabilities.rank) throw new RequestError(`the model '${modelId}' is a reranker; use /v1/rerank`, 'model');
        return sendJson(res, 200, await embeddingsResponse(model, batcher, modelId, body));
      }
      case '/v1/completions':
      case '/v1/chat/completions':
        throw new RequestError(`the model '${modelId}' is an embedding model and cannot generate text; this server has ${endpoints.join(', ')}`, 'model');
      default:
        throw new RequestError(`no route for ${method} ${path}; this server has POST ${endpoints.join(', POST ')}, GET /v1/models, GET /health`, null, 404, 'not_found');
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    route(req, res)
      .catch((err: unknown) => sendError(res, err as Error))
      .finally(() => inFlight--);
  }) as EmbeddingServeHandler;
  Object.defineProperties(handler, {
    model: { value: model },
    inFlight: { get: () => inFlight },
    close: {
      value: async (): Promise<void> => {
        closing = true;
        while (inFlight > 0) await new Promise((r) => setTimeout(r, 10));
        if (owned) await model.dispose();
      },
    },
  });
  return handler;
}
