/**
 * A summary of a model file for `tensorloom info`: architecture, hyperparameters, parameter
 * count, storage types, tokenizer and memory (file size, bytes resident, bytes copied).
 */
import { readFileSync, statSync } from 'node:fs';
import { FormatError } from './byte-source.js';
import { readLlama2cTokenizer } from './llama2c.js';
import type { ModelFile, ModelFormat } from './model-file.js';

/**
 * The model-level view of the file, when the architecture table (ts/models) knows its family:
 * a structural subset of ts/models' TransformerConfig (this module knows no family itself).
 */
export interface SummaryConfig {
  family: string;
  vocabSize: number;
  contextLength: number;
  dim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  hiddenDim: number;
  norm: string;
  normEps: number;
  mlp: string;
  rope: { theta: number; dims?: number; layout: string } | null;
  /** Encoder-decoders (T5): the decoder stack and the relative position buckets. */
  seq2seq?: { decoderLayers: number; buckets: number; maxDistance: number; decoderStartTokenId: number; tiedHead: boolean; encoderOnly: boolean };
}

export interface ModelSummary {
  path: string;
  format: ModelFormat;
  architecture: string;
  family: string | null;
  /** null when tensorloom has no model for the architecture. */
  config: SummaryConfig | null;
  parameters: number;
  tensors: number;
  /** Per storage type: tensor count, elements, bytes. */
  dtypes: Record<string, { tensors: number; parameters: number; bytes: number }>;
  tokenizer: { kind: string; source: string; vocabSize: number | null; matchesModel: boolean | null } | null;
  contextLength: number | null;
  memory: { fileBytes: number; tensorBytes: number; mapped: boolean; residentBytes: number; copiedBytes: number };
}

const GGUF_TOKENIZER_KIND: Record<string, string> = {
  llama: 'SentencePiece (llama)', gpt2: 'byte-level BPE (gpt2)', bert: 'WordPiece (bert)', t5: 'Unigram (t5)', rwkv: 'RWKV', none: 'none',
};

function tokenizerSummary(m: ModelFile, vocabSize: number | null): ModelSummary['tokenizer'] {
  const t = m.tokenizer;
  const match = (n: number | null) => (n === null || vocabSize === null ? null : n === vocabSize);
  switch (t.kind) {
    case 'none': return null;
    case 'gguf': return { kind: GGUF_TOKENIZER_KIND[t.model] ?? t.model, source: 'embedded GGUF metadata', vocabSize: t.vocabSize, matchesModel: match(t.vocabSize) };
    case 'llama2c': {
      let n: number | null = null;
      try {
        n = readLlama2cTokenizer(t.path, vocabSize ?? m.llama2c?.vocabSize ?? 0).tokens.length;
      } catch {
        n = null; // reported as not matching below
      }
      return { kind: 'SentencePiece (llama2.c tokenizer.bin)', source: t.path, vocabSize: n, matchesModel: n === null ? false : match(n) };
    }
    case 'hf': {
      let json: { model?: { type?: string; vocab?: Record<string, number> | unknown[] }; added_tokens?: { id: number }[] };
      try {
        json = JSON.parse(readFileSync(t.path, 'utf8'));
      } catch (err) {
        throw new FormatError(`${t.path}: ${(err as Error).message}`);
      }
      const vocab = json.model?.vocab;
      let maxId = -1;
      if (Array.isArray(vocab)) maxId = vocab.length - 1; // Unigram: [[piece, score], …]
      else if (vocab && typeof vocab === 'object') for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
      for (const a of json.added_tokens ?? []) maxId = Math.max(maxId, a.id);
      const n = maxId >= 0 ? maxId + 1 : null;
      return { kind: `${json.model?.type ?? 'unknown'} (tokenizer.json)`, source: t.path, vocabSize: n, matchesModel: match(n) };
    }
  }
}

/** Summarizes an open model. With `touch`, first views every tensor as the models would (so
 * residentBytes shows the pages actually read and copiedBytes what could not be a view).
 * `config`: the model's config from ts/models (resolveModel), null when no family runs it. */
export function describeModel(m: ModelFile, options: { touch?: boolean; config?: SummaryConfig | null } = {}): ModelSummary {
  const config = options.config ?? null;
  const dtypes: ModelSummary['dtypes'] = {};
  let parameters = 0;
  for (const e of m.tensors.values()) {
    const n = e.shape.reduce((a, b) => a * b, 1);
    parameters += n;
    const d = (dtypes[e.type] ??= { tensors: 0, parameters: 0, bytes: 0 });
    d.tensors++;
    d.parameters += n;
    d.bytes += e.byteLength;
  }
  if (options.touch) {
    for (const [name, e] of m.tensors) {
      if (e.shape.length >= 2) {
        const w = m.weights(name);
        // Read one byte per page so residency reflects a full pass over the weights.
        const b = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength);
        let sum = 0;
        for (let i = 0; i < b.length; i += 4096) sum += b[i]!;
        void sum;
      } else {
        m.vector(name);
      }
    }
  }
  const fileBytes = m.format === 'safetensors' ? 0 : statSync(m.path).size;
  return {
    path: m.path,
    format: m.format,
    architecture: m.architecture,
    family: config?.family ?? null,
    config,
    parameters,
    tensors: m.tensors.size,
    dtypes,
    tokenizer: tokenizerSummary(m, config?.vocabSize ?? null),
    contextLength: config?.contextLength ?? null,
    memory: { fileBytes: fileBytes || m.tensorBytes(), tensorBytes: m.tensorBytes(), mapped: m.mapped, residentBytes: m.residentBytes(), copiedBytes: m.copiedBytes() },
  };
}
