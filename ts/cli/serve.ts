/**
 * `tensorloom serve --model PATH [--port 8080] [--host 127.0.0.1] [--parallel N] …`: an
 * OpenAI-compatible HTTP server over one model. SIGTERM / SIGINT: stop accepting, finish the
 * requests in flight, exit 0.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from '../server/http.js';
import { createLimitedServer } from '../server/limits.js';
import { resolveModelArg } from './model-arg.js';
import { loadingHandler } from '../server/loading.js';
import { chatTemplateFromFlags, withLlamaAliases } from './llama-flags.js';

const HELP = `usage: tensorloom serve [--model PATH|REF] [options]

  -m, --model PATH|REF  model file or directory (GGUF, llama2.c .bin, Hugging Face dir), or a
                        model to download: hf:owner/repo/file.gguf, hf:owner/repo:QUANT, https URL
                        (default: the built-in stories260K toy model)
  --token TOKEN         access token for gated hub repos (default: $HF_TOKEN)
  --tokenizer PATH      tokenizer file, when the model file has none
  --port N              default 8080 (0 = any free port)
  --host ADDR           default 127.0.0.1
  --parallel N          sequences decoded together (KV-cache slots), default 4
  --max-queue N         requests that may wait for a slot, default 64 (then 429)
  -c, --ctx N           positions per sequence, default the model's context (also --ctx-size)
  --kv-budget MIB       upper bound on the KV cache of all slots together
  -t, --threads N       native threads for the forward pass
  --prefill-chunk N     most prompt tokens fed per step (chunked prefill), default 64
  --no-prompt-cache     run every prompt whole (by default a request takes the free slot whose KV
                        cache shares the longest prefix with its prompt and resumes after it, when
                        that is over a tenth of the prompt; else the least recently used slot)
  --chat-template TEXT  Jinja chat template overriding the model's own
  --chat-template-file FILE  the same, from a file
  --model-id NAME       the id /v1/models reports, default the file name
  --max-body BYTES      largest request body, default 1048576
  --engine MODULE       serve a custom engine module (see ts/server/engine.ts)
  --api-key KEY         require "Authorization: Bearer KEY" on every route but /health
                        (default: the TENSORLOOM_API_KEY environment variable, if set)
  --cors ORIGIN         allow browsers from ORIGIN (comma-separated list, or *)

Endpoints: POST /v1/completions, POST /v1/chat/completions, GET /v1/models, POST /tokenize,
POST /detokenize, GET /metrics (Prometheus), GET /health (503 while loading or draining);
for embedding models (BERT family): POST /v1/embeddings, or POST /v1/rerank for rerankers`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: withLlamaAliases(argv, { '--ctx-size': '--ctx' }),
      strict: true,
      options: {
        model: { type: 'string', short: 'm' },
        token: { type: 'string' },
        tokenizer: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        parallel: { type: 'string' },
        'max-queue': { type: 'string' },
        ctx: { type: 'string', short: 'c' },
        'kv-budget': { type: 'string' },
        threads: { type: 'string', short: 't' },
        'prefill-chunk': { type: 'string' },
        'no-prompt-cache': { type: 'boolean' },
        'chat-template': { type: 'string' },
        'chat-template-file': { type: 'string' },
        'model-id': { type: 'string' },
        'max-body': { type: 'string' },
        engine: { type: 'string' },
        'api-key': { type: 'string' },
        cors: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`tensorloom serve: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const int = (k: string, min: number, max: number): number | undefined => {
    const v = str(k);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new RangeError(`--${k} must be an integer in [${min}, ${max}], got '${v}'`);
    return n;
  };
  if (str('model') === '') {
    console.error(`tensorloom serve: --model is empty\n\n${HELP}`);
    return 2;
  }
  let model: string;
  try {
    model = await resolveModelArg(str('model'), str('token') !== undefined ? { token: str('token')! } : {});
  } catch (err) {
    console.error(`tensorloom serve: ${(err as Error).message}`);
    return 1;
  }
  let port: number, host: string;
  let opts: Parameters<typeof createServer>[0] & { model: string };
  try {
    port = int('port', 0, 65535) ?? 8080;
    host = str('host') ?? '127.0.0.1';
    // embedding models and rerankers get /v1/embeddings or /v1/rerank instead (serve-embeddings.ts)
    const embed = await import('./serve-embeddings.js');
    if (embed.isEmbeddingModel(model)) {
      const opt = (k: string, min: number, max: number) => int(k, min, max);
      return await embed.serveEmbeddings({
        model, port, host,
        ...(str('tokenizer') !== undefined ? { tokenizer: str('tokenizer')! } : {}),
        ...(opt('threads', 1, 1024) !== undefined ? { threads: opt('threads', 1, 1024)! } : {}),
        ...(str('model-id') !== undefined ? { modelId: str('model-id')! } : {}),
        ...(opt('max-body', 1, 1 << 30) !== undefined ? { maxBodyBytes: opt('max-body', 1, 1 << 30)! } : {}),
      });
    }
    const kvMiB = int('kv-budget', 1, 1 << 24);
    const chatTemplate = chatTemplateFromFlags(str('chat-template'), str('chat-template-file'));
    const engine = str('engine');
    const apiKey = str('api-key') ?? (process.env.TENSORLOOM_API_KEY || undefined);
    const all = {
      model,
      tokenizer: str('tokenizer'),
      parallel: int('parallel', 1, 1024),
      maxQueued: int('max-queue', 0, 1 << 20),
      contextLength: int('ctx', 1, 1 << 24),
      kvBudgetBytes: kvMiB === undefined ? undefined : kvMiB * 2 ** 20,
      threads: int('threads', 1, 1024),
      prefillChunk: int('prefill-chunk', 1, 1 << 16),
      promptCache: values['no-prompt-cache'] === true ? false : undefined,
      chatTemplate,
      modelId: str('model-id'),
      maxBodyBytes: int('max-body', 1, 1 << 30),
      engineModule: engine === undefined ? undefined : pathToFileURL(resolve(engine)).href,
      apiKey,
      cors: str('cors'),
    };
    if (apiKey !== undefined && apiKey.length === 0) throw new RangeError('--api-key must not be empty');
    opts = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined)) as unknown as typeof opts;
  } catch (err) {
    console.error(`tensorloom serve: ${(err as Error).message}`);
    return 1;
  }

  // Listen before loading: /health answers 503 "loading" until the model is ready (readiness probe).
  // Headers, body and idle connections are bounded in time (408); malformed requests get an answer
  // (400/414/431), not a reset. Responses are not: a generation may stream for minutes.
  let handler: Awaited<ReturnType<typeof createServer>> | null = null;
  const server = createLimitedServer((req, res) => (handler ?? loadingHandler)(req, res));
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(port, host, () => ok());
    });
  } catch (err) {
    console.error(`tensorloom serve: cannot listen on ${host}:${port}: ${(err as Error).message}`);
    return 1;
  }
  try {
    console.error(`tensorloom serve: loading ${model} …`);
    handler = await createServer(opts);
  } catch (err) {
    console.error(`tensorloom serve: ${(err as Error).message}`);
    server.close();
    server.closeAllConnections();
    return 1;
  }
  const ready = handler;
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  const info = ready.scheduler.info;
  console.error(`tensorloom serve: ${info.id} (${info.architecture}), ${info.slots} parallel × ${info.contextLength} positions, KV cache ${(info.kvCacheBytes / 2 ** 20).toFixed(1)} MiB`);
  console.log(`listening on http://${host.includes(':') ? `[${host}]` : host}:${bound}`);

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      console.error(`tensorloom serve: ${signal}: finishing ${ready.inFlight} request(s) in flight, then exiting`);
      server.close();
      void ready
        .close()
        .then(() => {
          server.closeAllConnections();
          console.error('tensorloom serve: drained, bye');
          done(0);
        })
        .catch((err: unknown) => {
          console.error(`tensorloom serve: ${(err as Error).message}`);
          done(1);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
