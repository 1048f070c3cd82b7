/**
 * Checks a model's hyperparameters when its file is opened, whatever the format, so that a
 * corrupt or hostile value fails at once with the file and the key that hold it — not later, at
 * the first forward pass, as "got NaN" or "RoPE dims must be even, got undefined".
 */
import { FormatError } from './byte-source.js';
import type { ModelConfig } from './model-file.js';

/** Where each config field came from in the file (a GGUF key, a config.json key, a header field). */
export type ConfigKeys = Partial<Record<keyof ModelConfig, string>>;

/** Sizes beyond these are not a model this library can hold; they guard the products computed from them. */
const MAX_SIZE = 2 ** 31 - 1;

/** Throws a FormatError naming the file and the key of the first bad value. */
export function checkModelConfig(c: ModelConfig, file: string, keys: ConfigKeys = {}): void {
  const bad = (field: keyof ModelConfig, why: string): never => {
    const key = keys[field] ?? field;
    throw new FormatError(`${file}: ${key} = ${String(c[field])} ${why}`);
  };
  for (const field of ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'vocabSize', 'contextLength'] as const) {
    const v = c[field];
    if (!Number.isSafeInteger(v) || v < 1 || v > MAX_SIZE) bad(field, `must be an integer in [1, ${MAX_SIZE}]`);
  }
  if (c.nKvHeads > c.nHeads || c.nHeads % c.nKvHeads !== 0) bad('nKvHeads', `must divide the ${c.nHeads} attention heads`);
  if (!Number.isFinite(c.normEps) || c.normEps <= 0 || c.normEps >= 1) bad('normEps', 'must be a number in (0, 1)');
  if (c.positions === 'rope') {
    if (!Number.isFinite(c.ropeTheta) || c.ropeTheta <= 0) bad('ropeTheta', 'must be a finite number > 0');
    if (!Number.isInteger(c.ropeDims) || c.ropeDims < 2 || c.ropeDims % 2 !== 0) bad('ropeDims', 'must be an even integer ≥ 2 (RoPE rotates pairs)');
    if (c.ropeDims > c.headDim) bad('ropeDims', `must be at most the head dimension ${c.headDim}`);
  }
}
