/**
 * Checks a model's hyperparameters as soon as its family has read them (when the model is
 * opened for use), whatever the format, so that a corrupt or hostile value fails at once with the
 * file and the key that hold it — not later, at the first forward pass, as "got NaN" or "RoPE dims
 * must be even, got undefined".
 */
import { FormatError } from '../formats/byte-source.js';
import type { ModelFile } from '../formats/model-file.js';
import type { TransformerConfig } from './config.js';

/** The fields checked here, named as a reader of the file would know them. */
type CheckedField = 'dim' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'headDim' | 'hiddenDim' | 'vocabSize' | 'contextLength' | 'normEps' | 'ropeTheta' | 'ropeDims';

/** Where each config field came from in the file (a GGUF key, a config.json key, a header field). */
export type ConfigKeys = Partial<Record<CheckedField, string>>;

/** Sizes beyond these are not a model this library can hold; they guard the products computed from them. */
const MAX_SIZE = 2 ** 31 - 1;

/** The keys a file of this format stores each field under. */
export function configKeys(mf: ModelFile, c: TransformerConfig): ConfigKeys {
  if (mf.format === 'llama2c') {
    return { dim: 'dim', nLayers: 'n_layers', nHeads: 'n_heads', nKvHeads: 'n_kv_heads', headDim: 'dim / n_heads', hiddenDim: 'hidden_dim', vocabSize: 'vocab_size', contextLength: 'seq_len', ropeDims: 'dim / n_heads' };
  }
  if (mf.format === 'gguf') {
    const k = (s: string) => `${mf.architecture}.${s}`;
    const has = (s: string) => mf.gguf?.metadata.has(k(s)) ?? false;
    return {
      dim: k('embedding_length'), nLayers: k('block_count'), nHeads: k('attention.head_count'), nKvHeads: k('attention.head_count_kv'),
      headDim: has('attention.key_length') ? k('attention.key_length') : `${k('embedding_length')} / ${k('attention.head_count')}`,
      hiddenDim: k('feed_forward_length'), vocabSize: k('vocab_size'), contextLength: k('context_length'),
      normEps: k(c.norm === 'rmsnorm' && has('attention.layer_norm_rms_epsilon') ? 'attention.layer_norm_rms_epsilon' : 'attention.layer_norm_epsilon'),
      ropeTheta: k('rope.freq_base'), ropeDims: has('rope.dimension_count') ? k('rope.dimension_count') : 'the head dimension',
    };
  }
  return {
    dim: 'hidden_size', nLayers: 'num_hidden_layers', nHeads: 'num_attention_heads', nKvHeads: 'num_key_value_heads', headDim: 'head_dim',
    hiddenDim: 'intermediate_size', vocabSize: 'vocab_size', contextLength: 'max_position_embeddings',
    normEps: c.norm === 'rmsnorm' ? 'rms_norm_eps' : 'layer_norm_epsilon', ropeTheta: 'rope_theta', ropeDims: 'head_dim × partial_rotary_factor',
  };
}

/** Throws a FormatError naming the file and the key of the first bad value. */
export function checkModelConfig(c: TransformerConfig, mf: ModelFile): void {
  const keys = configKeys(mf, c);
  const file = mf.format === 'safetensors' ? `${mf.path}/config.json` : mf.path;
  const value = (field: CheckedField): unknown => (field === 'ropeTheta' ? c.rope?.theta : field === 'ropeDims' ? (c.rope?.dims ?? c.headDim) : c[field]);
  const bad = (field: CheckedField, why: string): never => {
    throw new FormatError(`${file}: ${keys[field] ?? field} = ${String(value(field))} ${why}`);
  };
  for (const field of ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'hiddenDim', 'vocabSize', 'contextLength'] as const) {
    const v = c[field];
    if (!Number.isSafeInteger(v) || v < 1 || v > MAX_SIZE) bad(field, `must be an integer in [1, ${MAX_SIZE}]`);
  }
  if (c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads !== 0) bad('nKvHeads', `must divide the ${c.nHeads} attention heads`);
  if (!Number.isFinite(c.normEps) || c.normEps <= 0 || c.normEps >= 1) bad('normEps', 'must be a number in (0, 1)');
  if (c.rope) {
    if (!Number.isFinite(c.rope.theta) || c.rope.theta <= 0) bad('ropeTheta', 'must be a finite number > 0');
    const dims = c.rope.dims ?? c.headDim;
    if (!Number.isInteger(dims) || dims < 2 || dims % 2 !== 0) bad('ropeDims', 'must be an even integer ≥ 2 (RoPE rotates pairs)');
    if (dims > c.headDim) bad('ropeDims', `must be at most the head dimension ${c.headDim}`);
  }
}
