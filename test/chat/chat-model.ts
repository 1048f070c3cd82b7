/**
 * Chat-model fixtures: a tiny random-weight Llama (2 layers, dim 64) that carries a real chat
 * vocabulary — llama.cpp's Phi-3 conformance vocabulary (32064 tokens, `<|user|>`, `<|end|>` …) —
 * and a chat template in its metadata. Weights are random, so replies are noise; what these files
 * test is the prompt path (template → control tokens → ids) and stopping, which llama.cpp reads
 * from the same file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readGGUF } from '../../ts/formats/gguf.js';
import { f32, u32, writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { rng, vocabDir } from '../formats/helpers.js';

export const phi3Vocab = join(vocabDir, 'ggml-vocab-phi-3.gguf');
export const havePhi3Vocab = existsSync(phi3Vocab);
export const phi3Missing = `${phi3Vocab} is absent (../shared/tokenizers/llama.cpp-vocab): skipped`;

/** Phi-3's own template, as the vocabulary file carries it. */
export function phi3Template(): string {
  return readGGUF(phi3Vocab).metadata.get('tokenizer.chat_template') as string;
}

/** ChatML, as Qwen / OpenHermes ship it (no BOS). */
export const CHATML =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface ChatModelOptions {
  template: string;
  /** Vocabulary spellings to replace (e.g. Phi-3's unused placeholders → ChatML markers). */
  rename?: Record<string, string>;
  /** Metadata to add or override (e.g. an explicit tokenizer.ggml.eot_token_id). */
  extra?: [string, GGUFWriteValue][];
  seed?: number;
}

/** ChatML markers in the Phi-3 vocabulary: two of its control placeholders respelled. */
export const CHATML_RENAME = { '<|placeholder1|>': '<|im_start|>', '<|placeholder2|>': '<|im_end|>' };

export function writeChatModel(out: string, o: ChatModelOptions): void {
  const g = readGGUF(phi3Vocab);
  const meta: [string, GGUFWriteValue][] = [];
  const tokens = (g.metadata.get('tokenizer.ggml.tokens') as string[]).map((t) => (o.rename && Object.hasOwn(o.rename, t) ? o.rename[t]! : t));
  const V = tokens.length;
  const dim = 64;
  const ffn = 128;
  const layers = 2;
  meta.push(
    ['general.architecture', 'llama'],
    ['general.name', 'chat-test'],
    ['llama.context_length', u32(512)],
    ['llama.embedding_length', u32(dim)],
    ['llama.feed_forward_length', u32(ffn)],
    ['llama.block_count', u32(layers)],
    ['llama.attention.head_count', u32(4)],
    ['llama.attention.head_count_kv', u32(2)],
    ['llama.rope.dimension_count', u32(16)],
    ['llama.rope.freq_base', f32(10000)],
    ['llama.attention.layer_norm_rms_epsilon', f32(1e-5)],
    ['llama.vocab_size', u32(V)],
  );
  const override = new Map(o.extra ?? []);
  for (const [key, value] of g.metadata) {
    if (!key.startsWith('tokenizer.') || key === 'tokenizer.chat_template' || override.has(key)) continue;
    meta.push([key, { ...g.metadataTypes.get(key)!, value: key === 'tokenizer.ggml.tokens' ? tokens : value }]);
  }
  meta.push(['tokenizer.chat_template', o.template], ...override);

  const r = rng(o.seed ?? 7);
  const mat = (rows: number, cols: number, scale: number): GGUFWriteTensor['data'] => () => {
    const a = new Float32Array(rows * cols);
    for (let i = 0; i < a.length; i++) a[i] = (r() * 2 - 1) * scale;
    return a;
  };
  const ones = (n: number): GGUFWriteTensor['data'] => () => new Float32Array(n).fill(1);
  const t = (name: string, dims: number[], data: GGUFWriteTensor['data']): GGUFWriteTensor => ({ name, type: 'F32', dims, data });
  const tensors: GGUFWriteTensor[] = [t('token_embd.weight', [dim, V], mat(V, dim, 1)), t('output_norm.weight', [dim], ones(dim)), t('output.weight', [dim, V], mat(V, dim, 0.2))];
  const kv = 2 * 16;
  for (let l = 0; l < layers; l++) {
    const b = `blk.${l}.`;
    tensors.push(
      t(b + 'attn_norm.weight', [dim], ones(dim)),
      t(b + 'attn_q.weight', [dim, dim], mat(dim, dim, 0.2)),
      t(b + 'attn_k.weight', [dim, kv], mat(kv, dim, 0.2)),
      t(b + 'attn_v.weight', [dim, kv], mat(kv, dim, 0.2)),
      t(b + 'attn_output.weight', [dim, dim], mat(dim, dim, 0.2)),
      t(b + 'ffn_norm.weight', [dim], ones(dim)),
      t(b + 'ffn_gate.weight', [dim, ffn], mat(ffn, dim, 0.2)),
      t(b + 'ffn_up.weight', [dim, ffn], mat(ffn, dim, 0.2)),
      t(b + 'ffn_down.weight', [ffn, dim], mat(dim, ffn, 0.1)),
    );
  }
  writeGGUF(out, { metadata: meta, tensors });
}
