/**
 * `tensorloom info PATH [--tokenizer PATH] [--touch] [--json]`: what a model file holds.
 * PATH: a .gguf file, a llama2.c .bin, or a Hugging Face directory.
 */
import { parseArgs } from 'node:util';
import { describeModel, type ModelSummary, type SummaryConfig } from '../formats/describe.js';
import { openModelFile } from '../formats/model-file.js';
import { resolveModel, UnsupportedArchitectureError } from '../models/architectures.js';

const USAGE = `usage: tensorloom info PATH [--tokenizer PATH] [--touch] [--json]

  --touch   view every tensor as a model load would, then report the bytes resident and copied
  --json    print one JSON object`;

function mb(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
}

function count(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : String(n);
}

/** Both stacks of an encoder-decoder (T5 family). */
function seq2seqLines(s: NonNullable<SummaryConfig['seq2seq']>, encoderLayers: number): string[] {
  if (s.encoderOnly) return [`stacks        encoder only: ${encoderLayers} layers (bidirectional; no decoder in the file)`];
  return [
    `stacks        encoder-decoder: encoder ${encoderLayers} layers (bidirectional), decoder ${s.decoderLayers} layers (causal self-attention + cross-attention)`,
    `decoder       starts from token ${s.decoderStartTokenId}; LM head ${s.tiedHead ? 'tied to the embedding (scaled by dim^-1/2)' : 'untied'}`,
  ];
}

function text(s: ModelSummary): string {
  const c = s.config;
  const lines = [
    `model         ${s.path} (${s.format})`,
    `architecture  ${s.architecture}${s.family ? ` → ${s.family}` : ' (no tensorloom model for it)'}`,
    `parameters    ${s.tensors === 0 ? '0 (vocabulary-only file: no tensors)' : `${count(s.parameters)} in ${s.tensors} tensors`}`,
    ...(c
      ? [
          `shape         dim ${c.dim}, ${c.nLayers} layers, ${c.nHeads} heads (${c.nKvHeads} kv, head dim ${c.headDim}), ffn ${c.hiddenDim}, vocab ${c.vocabSize}`,
          `context       ${s.contextLength}`,
          `blocks        ${c.norm} (eps ${c.normEps.toPrecision(3)}), ${c.mlp}, ${c.rope ? `RoPE θ=${c.rope.theta} (${c.rope.dims ?? c.headDim} dims, ${c.rope.layout} layout)` : c.seq2seq ? `relative position buckets (${c.seq2seq.buckets}, max distance ${c.seq2seq.maxDistance})` : 'learned positions'}`,
        ]
      : []),
    ...(c?.seq2seq ? seq2seqLines(c.seq2seq, c.nLayers) : []),
    `dtypes        ${Object.entries(s.dtypes).map(([t, d]) => `${t}: ${d.tensors} tensors, ${mb(d.bytes)}`).join('; ')}`,
    `tokenizer     ${s.tokenizer ? `${s.tokenizer.kind}, ${s.tokenizer.vocabSize ?? '?'} tokens${s.tokenizer.matchesModel === false ? ' (DOES NOT MATCH the model vocab)' : ''}${s.tokenizer.source.startsWith('/') || s.tokenizer.source.includes('.') ? ` — ${s.tokenizer.source}` : ''}` : 'none found'}`,
    `memory        ${mb(s.memory.tensorBytes)} of weights, ${s.memory.mapped ? 'memory-mapped' : 'read into memory'}; resident ${mb(s.memory.residentBytes)}, copied ${mb(s.memory.copiedBytes)}`,
  ];
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tokenizer: { type: 'string' },
        touch: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`tensorloom info: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`tensorloom info: expected one PATH\n\n${USAGE}`);
    return 2;
  }
  const progress = (msg: string) => process.stderr.write(`${msg}\n`);
  const model = openModelFile(positionals[0]!, { ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}), ...(values.json ? {} : { onProgress: progress }) });
  try {
    let config = null;
    try {
      config = resolveModel(model).config;
    } catch (err) {
      if (!(err instanceof UnsupportedArchitectureError)) throw err;
    }
    const summary = describeModel(model, { touch: values.touch, config });
    console.log(values.json ? JSON.stringify(summary, null, 2) : text(summary));
  } finally {
    model.close();
  }
  return 0;
}
