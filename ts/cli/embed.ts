/**
 * `tensorloom embed --model M "text" …`: one JSON line per text, {"index", "tokens"?, "embedding"}
 * (texts from the arguments, or one per line of stdin). With `--rank QUERY` the model is a
 * reranker and each line is {"index", "score"} for the texts as documents.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadEmbeddingModel } from '../embed/model.js';

const HELP = `usage: tensorloom embed --model PATH [options] [TEXT …]   (no TEXT: one text per line of stdin)

  --model PATH        embedding model (BERT-family GGUF or Hugging Face directory)
  --pooling KIND      mean | cls | last (default: what the model file declares)
  --no-normalize      raw pooled vectors (default: L2-normalized)
  --truncate          cut texts longer than the context instead of failing
  --dimensions N      keep the first N components (Matryoshka models)
  --rank QUERY        rerank the texts against QUERY (reranker models): {"index", "score"} lines
  --threads N         native threads
  --tokenizer PATH    tokenizer file, when the model has none`;

export async function run(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        model: { type: 'string' }, pooling: { type: 'string' }, 'no-normalize': { type: 'boolean' }, truncate: { type: 'boolean' },
        dimensions: { type: 'string' }, rank: { type: 'string' }, threads: { type: 'string' }, tokenizer: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`tensorloom embed: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const model = values.model as string | undefined;
  if (!model) {
    console.error(`tensorloom embed: --model PATH is required\n\n${HELP}`);
    return 2;
  }
  const pooling = values.pooling as string | undefined;
  if (pooling !== undefined && !['mean', 'cls', 'last'].includes(pooling)) {
    console.error(`tensorloom embed: --pooling must be mean, cls or last, got '${pooling}'`);
    return 2;
  }
  const num = (k: string): number | undefined => {
    const v = values[k] as string | undefined;
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new RangeError(`--${k} must be a positive integer, got '${v}'`);
    return Number(v);
  };
  let texts = positionals;
  if (texts.length === 0) {
    texts = [];
    for await (const line of createInterface({ input: process.stdin })) if (line.length > 0) texts.push(line);
  }
  try {
    const threads = num('threads');
    const dimensions = num('dimensions');
    await using m = await loadEmbeddingModel(model, { worker: false, ...(threads ? { threads } : {}), ...(values.tokenizer ? { tokenizer: values.tokenizer as string } : {}) });
    if (values.rank !== undefined) {
      const scores = await m.rank(values.rank as string, texts, { truncate: values.truncate === true });
      scores.forEach((score, index) => console.log(JSON.stringify({ index, score })));
      return 0;
    }
    const vectors = await m.embed(texts, {
      ...(pooling ? { pooling: pooling as 'mean' | 'cls' | 'last' } : {}),
      normalize: values['no-normalize'] !== true,
      truncate: values.truncate === true,
      ...(dimensions ? { dimensions } : {}),
    });
    vectors.forEach((v, index) => console.log(JSON.stringify({ index, embedding: Array.from(v) })));
    return 0;
  } catch (err) {
    console.error(`tensorloom embed: ${(err as Error).message}`);
    return 1;
  }
}
