/**
 * `tensorloom serve` for embedding models and rerankers (serve.ts hands over when the model file is
 * an encoder): POST /v1/embeddings or POST /v1/rerank, GET /v1/models, GET /health.
 */
import { createServer as createHttpServer } from 'node:http';
import { openModelFile } from '../formats/model-file.js';
import { declaredPooling, resolveModel } from '../models/registry.js';
import { createEmbeddingServer } from '../server/embeddings.js';

/**
 * Whether the model file is an embedding model: an encoder entry of the architecture table, an
 * encoder-only T5 (t5encoder), or a decoder whose file declares a pooling (Qwen3-Embedding, decoder
 * rerankers).
 */
export function isEmbeddingModel(path: string): boolean {
  try {
    using mf = openModelFile(path);
    const { config } = resolveModel(mf);
    if (config.encoder !== undefined || config.seq2seq?.encoderOnly) return true;
    const p = declaredPooling(mf);
    return p !== null && p !== 'none';
  } catch {
    return false; // the generative path reports what is wrong with the file
  }
}

export async function serveEmbeddings(o: { model: string; tokenizer?: string; threads?: number; modelId?: string; maxBodyBytes?: number; port: number; host: string }): Promise<number> {
  let handler: Awaited<ReturnType<typeof createEmbeddingServer>>;
  try {
    console.error(`tensorloom serve: loading ${o.model} (embedding model) …`);
    handler = await createEmbeddingServer({
      model: o.model,
      ...(o.tokenizer !== undefined ? { tokenizer: o.tokenizer } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.modelId !== undefined ? { modelId: o.modelId } : {}),
      ...(o.maxBodyBytes !== undefined ? { maxBodyBytes: o.maxBodyBytes } : {}),
    });
  } catch (err) {
    console.error(`tensorloom serve: ${(err as Error).message}`);
    return 1;
  }
  const server = createHttpServer(handler);
  try {
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(o.port, o.host, () => ok());
    });
  } catch (err) {
    console.error(`tensorloom serve: cannot listen on ${o.host}:${o.port}: ${(err as Error).message}`);
    await handler.close();
    return 1;
  }
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : o.port;
  const info = handler.model.info;
  const e = info.embedding;
  console.error(`tensorloom serve: ${info.config.architecture}, ${e?.dimensions ?? info.config.dim} dimensions, context ${info.contextLength}, ${info.capabilities.rank ? 'reranker (POST /v1/rerank)' : `pooling ${e?.pooling ?? 'not declared'} (POST /v1/embeddings)`}`);
  console.log(`listening on http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${bound}`);
  return new Promise<number>((done) => {
    const stop = (signal: string): void => {
      console.error(`tensorloom serve: ${signal}: finishing ${handler.inFlight} request(s) in flight, then exiting`);
      server.close();
      void handler.close().then(
        () => {
          server.closeAllConnections();
          done(0);
        },
        () => done(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
