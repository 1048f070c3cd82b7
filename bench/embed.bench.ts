/**
 * npx tsx bench/run.ts embed [--quick] [--threads=1,2] [--sizes=33m,110m] [--batches=1,8,32] [--lengths=60,250] [--reps=N]
 *
 * Embedding throughput (texts/s): batches of 1, 8 and 32 texts of ~60 and ~250 tokens on random
 * BERT GGUFs of bge-small's shape (33m) and bert-base's (110m), tensorloom (native backend, one
 * packed forward pass per batch) next to node-llama-cpp's embedding context on the same file and
 * thread count (texts one after another, as its API takes them); then POST /v1/embeddings under 16
 * concurrent clients. `--quick`: the tiny model, 1 thread, batches 1 and 8 (checks the bench runs).
 * Models are written to the temp dir by scripts/make-random-encoder.ts when missing.
 */
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { makeRandomEncoder, type EncoderSize } from '../scripts/make-random-encoder.js';
import { getBackend } from '../ts/backend/index.js';
import { loadEmbeddingModel } from '../ts/embed/index.js';
import { createEmbeddingServer } from '../ts/server/embeddings.js';
import { median, printTable, writeResults, type Row } from './lib.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const WORDS = 'the quick brown fox jumps over a lazy dog while search engines embed every sentence into vectors for retrieval'.split(' ');

/** A text of about `tokens` WordPiece tokens (common English words are one token each). */
function text(tokens: number, seed: number): string {
  const out: string[] = [];
  for (let i = 0; i < tokens - 2; i++) out.push(WORDS[(seed * 7 + i * 13) % WORDS.length]!);
  return out.join(' ');
}

function peersPath(): string | null {
  for (const root of [join(repoRoot, 'bench', 'peers'), join(repoRoot, '..', 'main', 'bench', 'peers')]) {
    const p = join(root, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
    if (existsSync(p)) return p;
  }
  return null;
}

function list(args: string[], name: string, dflt: string): string[] {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return (a ? a.slice(name.length + 3) : dflt).split(',').filter(Boolean);
}

export async function run(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const sizes = (quick ? ['tiny'] : list(args, 'sizes', '33m,110m')) as EncoderSize[];
  const threadsList = (quick ? ['1'] : list(args, 'threads', '1,2')).map(Number);
  const batches = (quick ? ['1', '8'] : list(args, 'batches', '1,8,32')).map(Number);
  const lengths = (quick ? ['60'] : list(args, 'lengths', '60,250')).map(Number);
  const reps = Number(list(args, 'reps', quick ? '2' : '3')[0]);
  const peers = peersPath();
  type LM = { createEmbeddingContext(o: object): Promise<{ getEmbeddingFor(t: string): Promise<unknown>; dispose(): Promise<void> }>; dispose(): Promise<void> };
  const llama = peers
    ? await ((await import(pathToFileURL(peers).href)) as { getLlama(o: object): Promise<{ loadModel(o: object): Promise<LM> }> }).getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' })
    : null;
  const rows: Row[] = [];
  for (const size of sizes) {
    const path = join(tmpdir(), `tensorloom-bench-bert-${size}.gguf`);
    if (!existsSync(path)) makeRandomEncoder({ arch: 'bert', size, pooling: 'mean', seed: 1, gguf: path });
    for (const threads of threadsList) {
      getBackend().setThreads(threads);
      // ours first, then llama.cpp's: an idle llama.cpp context's threads must not share the cores with our timing
      const ourRate = new Map<string, number>();
      {
        await using ours = await loadEmbeddingModel(path, { worker: false, threads });
        for (const len of lengths) {
          for (const batch of batches) {
            const texts = Array.from({ length: batch }, (_, i) => text(len, i));
            await ours.embed(texts); // warm-up
            const ms: number[] = [];
            for (let r = 0; r < reps; r++) {
              const t0 = performance.now();
              await ours.embed(texts);
              ms.push(performance.now() - t0);
            }
            ourRate.set(`${len}/${batch}`, (batch * 1000) / median(ms));
          }
        }
      }
      const lm = llama ? await llama.loadModel({ modelPath: path }) : null;
      const ctx = lm ? await lm.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads }) : null;
      for (const len of lengths) {
        for (const batch of batches) {
          const texts = Array.from({ length: batch }, (_, i) => text(len, i));
          let theirs: number | null = null;
          if (ctx) {
            await ctx.getEmbeddingFor(texts[0]!);
            const ms: number[] = [];
            for (let r = 0; r < reps; r++) {
              const t0 = performance.now();
              for (const t of texts) await ctx.getEmbeddingFor(t);
              ms.push(performance.now() - t0);
            }
            theirs = (batch * 1000) / median(ms);
          }
          const mine = ourRate.get(`${len}/${batch}`)!;
          const row: Row = { model: size, threads, tokens: len, batch, 'tensorloom texts/s': mine, 'node-llama-cpp texts/s': theirs, ratio: theirs ? mine / theirs : null };
          rows.push(row);
          console.log(JSON.stringify(row)); // as they come: a long run that is stopped still has its figures
        }
      }
      await ctx?.dispose();
      await lm?.dispose();
    }
  }
  printTable('embedding throughput (texts/s, median)', rows);

  // /v1/embeddings under 16 concurrent clients (batched across requests by the server)
  const size = sizes[0]!;
  const handler = await createEmbeddingServer({ model: join(tmpdir(), `tensorloom-bench-bert-${size}.gguf`), threads: threadsList[0]! });
  const { createServer } = await import('node:http');
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const requests = quick ? 32 : 256;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < requests) {
      const i = next++;
      const res = await fetch(`http://127.0.0.1:${port}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: text(60, i) }) });
      if (res.status !== 200) throw new Error(`/v1/embeddings answered ${res.status}`);
      await res.arrayBuffer();
    }
  }));
  const httpRows: Row[] = [{ model: size, clients: 16, requests, 'requests/s': (requests * 1000) / (performance.now() - t0) }];
  server.close();
  await handler.close();
  printTable('/v1/embeddings, 16 concurrent clients, one ~60-token text each', httpRows);
  writeResults('embed', { rows, http: httpRows, note: 'measured on whatever machine ran it; compare rows of one run only' });
}
