/**
 * The OpenAI-compatible HTTP layer over a Scheduler, as a plain Node request handler:
 *
 *   POST /v1/completions        POST /v1/chat/completions      (stream: true → server-sent events)
 *   GET  /v1/models             GET  /health
 *   POST /tokenize              POST /detokenize               GET  /metrics (Prometheus)
 *
 * `createServer({ model })` returns the handler; pass it to `http.createServer`, or mount it in an
 * existing express / fastify / Koa app (it reads `req.body` when a body parser already ran).
 */
import '../dispose-symbols.js';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolveModelFile } from '../hub/resolve-model.js';
import { planTools, type ToolPlan } from '../chat/tools.js';
import { ChatTemplate } from './chat-template.js';
import { outputConstraints, readToolCalls, templateKwargs, ToolStreamGate } from './chat-request.js';
import { AbortError, QueueFullError, RequestError, UnavailableError } from './errors.js';
import type { TokenLogprob } from '../generate/logprobs.js';
import { chatLogprobs, completionLogprobs } from './openai-logprobs.js';
import { Scheduler, type ChoiceResult, type GenerateOptions, type GenerateResult, type SchedulerOptions, type ServePrompt } from './scheduler.js';
import { endEventStream, sendEvent, startEventStream } from './sse.js';
import { readBody } from './read-body.js';
import { ApiKeyCheck, CorsPolicy } from './auth.js';
import { METRICS_CONTENT_TYPE, ServerMetrics } from './metrics.js';
import { detokenize, tokenize } from './tokenize-endpoints.js';
import { parseJsonBody, validateChat, validateCompletion, type Limits } from './validate.js';

/** A model from `loadModel()` (anything that reports the files it came from). */
export interface LoadedModelLike {
  readonly info: { readonly path: string; readonly tokenizer: { readonly path: string | null } };
}

export interface ServeOptions extends Omit<Partial<SchedulerOptions>, 'model'> {
  /**
   * Model file or directory, an hf:owner/repo/file.gguf / hf:owner/repo:QUANT reference or URL
   * (downloaded into the cache first, with HF_TOKEN / HF_ENDPOINT / TENSORLOOM_CACHE from the
   * environment), or a model from `loadModel()`: the server then loads its own batched instance
   * of the same files (memory-mapped weights share the page cache).
   */
  model?: string | LoadedModelLike;
  /** Serve this already-loaded scheduler instead of loading `model` (it is then not closed by close()). */
  scheduler?: Scheduler;
  /** The id /v1/models reports and responses echo. Default: the model file's name. */
  modelId?: string;
  /** Jinja chat template overriding the model's own. */
  chatTemplate?: string;
  /** Largest request body accepted, in bytes (413 above). Default 1 MiB. */
  maxBodyBytes?: number;
  /** The whole body must arrive within this (else 408). Default 30 s. */
  bodyTimeoutMs?: number;
  /** The body may not stall longer than this between two chunks (else 408). Default 10 s. */
  bodyIdleTimeoutMs?: number;
  /** max_tokens for /v1/completions when the request has none. Default 16 (as OpenAI). */
  defaultCompletionTokens?: number;
  /** Require `Authorization: Bearer <apiKey>` on every route but /health (401 otherwise). */
  apiKey?: string;
  /** Origins allowed by CORS (`https://app.example`, a list, or `*`); absent: no CORS headers. */
  cors?: string | string[];
}

export interface ServeHandler extends AsyncDisposable {
  (req: IncomingMessage, res: ServerResponse): void;
  readonly scheduler: Scheduler;
  /** Requests being answered now. */
  readonly inFlight: number;
  /** Answers new requests with 503 and resolves once every request in flight has finished. */
  drain(): Promise<void>;
  /** drain(), then stop the scheduler if this handler loaded it. `await using` calls it too. */
  close(): Promise<void>;
}

type Kind = 'completion' | 'chat';

/** Longer URLs get 414 (no route here needs more than a model id). */
const MAX_URL_LENGTH = 8192;

export async function createServer(opts: ServeOptions): Promise<ServeHandler> {
  let scheduler: Scheduler;
  const owned = opts.scheduler === undefined;
  if (opts.scheduler) scheduler = opts.scheduler;
  else {
    const m = opts.model;
    if (!m) throw new TypeError('tensorloom: createServer needs { model: path | loadModel() result } or { scheduler }');
    const path = typeof m === 'string' ? await resolveModelFile(m) : m.info.path; // hf:… / URL: from the download cache
    const tokenizer = opts.tokenizer ?? (typeof m === 'string' ? undefined : (m.info.tokenizer.path ?? undefined));
    scheduler = await Scheduler.load({ ...opts, model: path, ...(tokenizer !== undefined ? { tokenizer } : {}) });
  }
  const info = scheduler.info;
  const modelId = opts.modelId ?? info.id;
  const templateSource = opts.chatTemplate ?? info.chatTemplate;
  const template = templateSource
    ? new ChatTemplate(templateSource, {
        ...(info.bosText !== undefined ? { bosToken: info.bosText } : {}),
        ...(info.eosText !== undefined ? { eosToken: info.eosText } : {}),
        controlTokens: info.controlTokens ?? [],
      })
    : null;
  const bodyLimits = { limit: opts.maxBodyBytes ?? 1 << 20, totalMs: opts.bodyTimeoutMs ?? 30_000, idleMs: opts.bodyIdleTimeoutMs ?? 10_000 };
  const limits: Limits = { contextLength: info.contextLength, defaultCompletionTokens: Math.min(opts.defaultCompletionTokens ?? 16, info.contextLength), slots: info.slots };
  const created = Math.floor(Date.now() / 1000);
  const metrics = new ServerMetrics();
  const apiKey = opts.apiKey !== undefined ? new ApiKeyCheck(opts.apiKey) : null;
  const cors = opts.cors !== undefined ? new CorsPolicy(opts.cors) : null;

  let draining = false;
  let inFlight = 0;
  const idle: (() => void)[] = [];
  const finished = (): void => {
    inFlight--;
    if (inFlight === 0) for (const w of idle.splice(0)) w();
  };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? '').length > MAX_URL_LENGTH) throw new RequestError(`the request URL is ${req.url!.length} characters long; the limit is ${MAX_URL_LENGTH}`, null, 414, 'uri_too_long');
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const allow = (m: string): boolean => {
      if (method === m || (m === 'GET' && method === 'HEAD')) return true;
      res.setHeader('Allow', m === 'GET' ? 'GET, HEAD' : m);
      throw new RequestError(`${method} is not allowed on ${path}; use ${m}`, null, 405, 'method_not_allowed');
    };
    if (cors?.apply(req, res)) return;
    if (apiKey && path !== '/health') apiKey.check(req);
    switch (path) {
      case '/metrics': {
        allow('GET');
        const text = metrics.render(scheduler.stats(), inFlight);
        res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
        res.end(method === 'HEAD' ? undefined : text);
        return;
      }
      case '/health': {
        allow('GET');
        const s = scheduler.stats();
        const body = {
          status: draining || s.draining ? 'draining' : 'ok',
          model: modelId,
          slots: { total: s.slots, busy: s.slotsBusy },
          queue: { waiting: Math.max(0, s.outstanding - s.slots), max: s.maxQueued },
        };
        return sendJson(res, draining || s.draining ? 503 : 200, body);
      }
      case '/v1/models': {
        allow('GET');
        return sendJson(res, 200, { object: 'list', data: [modelCard()] });
      }
      case `/v1/models/${modelId}`: {
        allow('GET');
        return sendJson(res, 200, modelCard());
      }
      case '/tokenize':
      case '/detokenize': {
        allow('POST');
        const body = parseBody(await readBody(req, bodyLimits));
        return sendJson(res, 200, await (path === '/tokenize' ? tokenize : detokenize)(scheduler, body));
      }
      case '/v1/completions':
      case '/v1/chat/completions': {
        allow('POST');
        if (draining) throw new UnavailableError('tensorloom: the server is shutting down and takes no new requests');
        const body = parseBody(await readBody(req, bodyLimits));
        if (path === '/v1/completions') {
          const r = validateCompletion(body, limits);
          const { grammar } = outputConstraints(body, false);
          return generate(req, res, 'completion', r.prompt, true, { ...r.options, ...(grammar !== null ? { grammar } : {}) }, r.stream, r.includeUsage);
        }
        if (info.encoderDecoder) {
          throw new RequestError(
            `the model '${modelId}' is an encoder-decoder (${info.architecture}): it has no chat template and takes a source text, not messages; use /v1/completions with the source as the prompt`,
            'messages',
          );
        }
        const r = validateChat(body, limits);
        const constraints = outputConstraints(body, true);
        if (!template) {
          throw new RequestError(
            `the model '${modelId}' has no chat template (GGUF tokenizer.chat_template or tokenizer_config.json chat_template); use /v1/completions, or start the server with a template`,
            'messages',
          );
        }
        // Tools: rendered by the template, a required/named call constrained to its schema (ts/chat/tools.ts).
        const plan = constraints.tools ? planTools(template.source, r.messages, constraints.tools, constraints.toolChoice ?? 'auto') : null;
        // Control tokens the template writes become tokens; message text stays text (ts/chat/template.ts).
        const extra = templateKwargs(body);
        const prompt = template.render(plan ? plan.messages : r.messages, { ...(plan?.tools ? { tools: plan.tools } : {}), ...(extra ? { extra } : {}) });
        const grammar = plan?.grammar ?? constraints.grammar;
        return generate(req, res, 'chat', prompt, true, { ...r.options, ...(grammar !== null ? { grammar } : {}) }, r.stream, r.includeUsage, plan);
      }
      case '/v1/embeddings':
      case '/v1/rerank':
        // embedding models and rerankers are served by ts/server/embeddings.ts (tensorloom serve picks it)
        throw new RequestError(`the model '${modelId}' is a generative model and has no ${path === '/v1/rerank' ? 'reranking' : 'embeddings'} endpoint; serve an embedding model (BERT family) for ${path}`, 'model');
      default:
        throw new RequestError(`no route for ${method} ${path}; this server has POST /v1/completions, POST /v1/chat/completions, GET /v1/models, POST /tokenize, POST /detokenize, GET /metrics, GET /health`, null, 404, 'not_found');
    }
  }

  function modelCard(): Record<string, unknown> {
    const endpoints = template && !info.encoderDecoder ? ['/v1/completions', '/v1/chat/completions'] : ['/v1/completions'];
    const encdec = info.encoderDecoder ? { encoder_decoder: { max_source_tokens: info.encoderDecoder.maxSourceTokens, max_target_tokens: info.encoderDecoder.maxTargetTokens } } : {};
    return { id: modelId, object: 'model', created, owned_by: 'tensorloom', architecture: info.architecture, context_length: info.contextLength, parallel: info.slots, endpoints, ...encdec };
  }

  async function generate(
    req: IncomingMessage,
    res: ServerResponse,
    kind: Kind,
    prompt: ServePrompt,
    addBos: boolean,
    options: Omit<GenerateOptions, 'signal' | 'onText'>,
    stream: boolean,
    includeUsage: boolean,
    tools: ToolPlan | null = null,
  ): Promise<void> {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomBytes(12).toString('hex')}`;
    const now = Math.floor(Date.now() / 1000);
    const object = kind === 'chat' ? (stream ? 'chat.completion.chunk' : 'chat.completion') : 'text_completion';
    const head = { id, object, created: now, model: modelId };
    // A client that goes away aborts its generation, which frees its slot.
    const ac = new AbortController();
    const onClose = (): void => {
      if (!res.writableEnded) ac.abort();
    };
    res.on('close', onClose);
    req.socket?.setNoDelay(true);
    const call = { ...options, addBos: Array.isArray(prompt) ? false : addBos, signal: ac.signal };
    const n = options.n ?? 1;
    const withLogprobs = options.logprobs === true;
    try {
      if (!stream) {
        const r = await scheduler.submit(prompt, call);
        metrics.generation(r);
        const choices = r.choices.map((c) => (kind === 'chat' ? chatChoice(c, tools, withLogprobs) : textChoice(c, withLogprobs)));
        return sendJson(res, 200, { ...head, choices, usage: usage(r) });
      }
      // Streaming: each choice's text as it comes, with the log-probabilities of the tokens behind it.
      let started = false;
      const start = (): void => {
        if (started) return;
        started = true;
        startEventStream(res);
        if (kind === 'chat') for (let index = 0; index < n; index++) sendEvent(res, { ...head, choices: [{ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] });
      };
      const pending: TokenLogprob[][] = Array.from({ length: n }, () => []);
      const offsets = new Array<number>(n).fill(0); // legacy text_offset, per choice
      const takeLogprobs = (index: number): unknown => {
        if (!withLogprobs) return null;
        const entries = pending[index]!.splice(0);
        if (kind === 'chat') return chatLogprobs(entries);
        const lp = completionLogprobs(entries, offsets[index]);
        for (const e of entries) offsets[index]! += e.text.length;
        return lp;
      };
      const delta = (index: number, text: string, finish: string | null): unknown => {
        const logprobs = finish ? null : takeLogprobs(index);
        return kind === 'chat'
          ? { ...head, choices: [{ index, delta: finish ? {} : { content: text }, logprobs, finish_reason: finish }] }
          : { ...head, choices: [{ index, text, logprobs, finish_reason: finish }] };
      };
      const gates = Array.from({ length: n }, () => (tools ? new ToolStreamGate(tools) : null));
      const onToken = (index: number, t: string, logprob: TokenLogprob | undefined): void => {
        start();
        if (logprob) pending[index]!.push(logprob);
        if (!t) return;
        const gate = gates[index];
        const out = gate ? gate.push(t) : t;
        if (out) sendEvent(res, delta(index, out, null));
      };
      let r: GenerateResult;
      try {
        r = await scheduler.submit(prompt, call, { onAccepted: start, onToken });
      } catch (err) {
        if (!started) throw err;
        if (!(err instanceof AbortError)) sendEvent(res, errorBody(err as Error).body);
        return endEventStream(res);
      }
      metrics.generation(r);
      start();
      for (const c of r.choices) {
        let finish: string = c.finishReason;
        const gate = gates[c.index];
        if (gate) {
          const end = gate.finish(c.finishReason);
          if (end.text) sendEvent(res, delta(c.index, end.text, null));
          if (end.calls) {
            const toolCalls = end.calls.map((call, index) => ({ index, ...call }));
            sendEvent(res, { ...head, choices: [{ index: c.index, delta: { tool_calls: toolCalls }, logprobs: takeLogprobs(c.index), finish_reason: null }] });
            finish = 'tool_calls';
          }
        }
        // Tokens whose text was held back (a stop string, an unfinished character) still report their logprobs.
        if (pending[c.index]!.length > 0) sendEvent(res, delta(c.index, '', null));
        sendEvent(res, delta(c.index, '', finish));
      }
      if (includeUsage) sendEvent(res, { ...head, choices: [], usage: usage(r) });
      endEventStream(res);
    } finally {
      res.off('close', onClose);
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    inFlight++;
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    res.once('finish', () => metrics.request(path, res.statusCode));
    route(req, res)
      .catch((err: unknown) => sendError(res, err as Error))
      .finally(finished);
  }) as ServeHandler;

  Object.defineProperties(handler, {
    scheduler: { value: scheduler },
    inFlight: { get: () => inFlight },
    drain: {
      value: (): Promise<void> => {
        draining = true;
        return inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => idle.push(r));
      },
    },
    close: {
      value: async (): Promise<void> => {
        await handler.drain();
        if (owned) await scheduler.close();
      },
    },
    [Symbol.asyncDispose]: { value: (): Promise<void> => handler.close() },
  });
  return handler;
}

function textChoice(c: ChoiceResult, withLogprobs: boolean): unknown {
  return { index: c.index, text: c.text, logprobs: withLogprobs ? completionLogprobs(c.logprobs ?? []) : null, finish_reason: c.finishReason };
}

function chatChoice(c: ChoiceResult, tools: ToolPlan | null, withLogprobs: boolean): unknown {
  const logprobs = withLogprobs ? chatLogprobs(c.logprobs ?? []) : null;
  const calls = readToolCalls(c.text, c.finishReason, tools);
  if (calls) return { index: c.index, message: { role: 'assistant', content: null, tool_calls: calls }, logprobs, finish_reason: 'tool_calls' };
  return { index: c.index, message: { role: 'assistant', content: c.text }, logprobs, finish_reason: c.finishReason };
}

function usage(r: GenerateResult): unknown {
  const { promptTokens, completionTokens, totalTokens, cachedPromptTokens } = r.usage;
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: totalTokens, prompt_tokens_details: { cached_tokens: cachedPromptTokens } };
}

export function parseBody(body: string | object): Record<string, unknown> {
  if (typeof body === 'string') return parseJsonBody(body);
  if (Array.isArray(body)) throw new RequestError('the request body must be a JSON object, got an array');
  return body as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

function errorBody(err: Error): { status: number; body: unknown; headers: Record<string, string> } {
  const headers: Record<string, string> = {};
  let status = 500;
  let type = 'server_error';
  let code: string | null = null;
  let param: string | null = null;
  if (err instanceof RequestError) {
    status = err.status;
    type = 'invalid_request_error';
    code = err.code === 'invalid_request_error' ? null : err.code;
    param = err.param;
  } else if (err instanceof QueueFullError) {
    status = 429;
    type = 'rate_limit_error';
    code = err.code;
    headers['Retry-After'] = String(err.retryAfterSeconds);
  } else if (err instanceof UnavailableError) {
    status = 503;
    code = err.code;
    headers['Retry-After'] = '5';
  }
  return { status, headers, body: { error: { message: err.message.replace(/^tensorloom: /, ''), type, param, code } } };
}

export function sendError(res: ServerResponse, err: Error): void {
  if (err instanceof AbortError) return; // the client is gone
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, headers, body } = errorBody(err);
  // After refusing a body we didn't read, close the connection instead of draining it.
  if (status === 413 || status === 408) headers.Connection = 'close';
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer';
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  sendJson(res, status, body);
}
