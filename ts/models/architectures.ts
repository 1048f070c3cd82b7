/**
 * The architecture table: every decoder family tensorloom runs, one file each, looked up by the
 * name the model file declares (GGUF `general.architecture`, HF `architectures[0]` / `model_type`,
 * or a llama2.c .bin). Like transformers.js's model-type → class map, but each entry also says how
 * to read its file (see ./architecture.ts for the `Architecture` interface).
 *
 * Adding a decoder family = one new file plus tests:
 *   1. `ts/models/<family>.ts` exporting an `Architecture`: `config` (GGUF keys via
 *      `configFromGGUF`/`GGUFKeys`, config.json via `configFromHF`/`HFKeys`, then the family's own
 *      switches), `hfTensorName` (HF → GGUF names; `llamaStyleHfName` covers Llama-like
 *      checkpoints), `weights` (GGUF names → `TransformerWeights`; `decoderWeights` in llama.ts
 *      covers separate q/k/v + gate/up/down), `ggufMetadata` (the keys llama.cpp's converter writes).
 *   2. Add its name to `ModelFamily` (./config.ts) and its entry to `ARCHITECTURES` below.
 *   3. If its block needs something new, add a switch to `TransformerConfig` (./config.ts), read it
 *      in the Transformer's constructor (./transformer.ts) and the layer (ts/layers/): the one
 *      forward pass there serves generate, stream and the batching server alike.
 *   4. A random-weight generator case in scripts/make-random-model.ts and parity tests against
 *      llama.cpp (test/models/random-parity.test.ts).
 */
import type { ModelFile } from '../formats/model-file.js';
import { UnsupportedArchitectureError, type Architecture } from './architecture.js';
import { checkModelConfig } from './config-check.js';
import type { TransformerConfig } from './config.js';
import { bert } from './bert.js';
import { gemma2 } from './gemma2.js';
import { gemma3 } from './gemma3.js';
import { gemma4 } from './gemma4.js';
import { gpt2 } from './gpt2.js';
import { llama } from './llama.js';
import { nomicBert } from './nomic-bert.js';
import { phi3 } from './phi3.js';
import { qwen2 } from './qwen2.js';
import { qwen3 } from './qwen3.js';
import { qwen3moe } from './qwen3moe.js';
import { qwen35, qwen35moe } from './qwen35.js';
import { qwen3next } from './qwen3next.js';
import { smollm3 } from './smollm3.js';
import { mistral3 } from './mistral3.js';
import { t5, t5encoder } from './t5.js';

export const ARCHITECTURES: readonly Architecture[] = [llama, qwen2, qwen3, qwen3moe, smollm3, mistral3, gemma2, gemma3, gemma4, phi3, gpt2, qwen35, qwen35moe, qwen3next, bert, nomicBert, t5, t5encoder];

export { UnsupportedArchitectureError };

/** Every name the table accepts, by file format. */
export const SUPPORTED_ARCHITECTURES = {
  gguf: ARCHITECTURES.flatMap((a) => a.gguf),
  huggingface: ARCHITECTURES.flatMap((a) => a.huggingface.filter((n) => /[A-Z]/.test(n))),
  llama2c: ['llama2.c .bin'],
} as const;

function supportedList(): string {
  return `${[...SUPPORTED_ARCHITECTURES.gguf, ...SUPPORTED_ARCHITECTURES.huggingface].join(', ')}, and llama2.c .bin files`;
}

/** The table entry for a model file, or UnsupportedArchitectureError listing the supported names. */
export function architectureOf(mf: ModelFile): Architecture {
  let found: Architecture | undefined;
  if (mf.format === 'llama2c') found = ARCHITECTURES.find((a) => a.family === 'llama');
  else if (mf.format === 'gguf') found = ARCHITECTURES.find((a) => a.gguf.includes(mf.architecture));
  else {
    const modelType = typeof mf.hfConfig?.model_type === 'string' ? mf.hfConfig.model_type : '';
    found = ARCHITECTURES.find((a) => a.huggingface.includes(mf.architecture)) ?? ARCHITECTURES.find((a) => a.huggingface.includes(modelType));
  }
  if (!found) throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: unsupported architecture '${mf.architecture}'; supported: ${supportedList()}`);
  return found;
}

export interface ResolvedModel {
  architecture: Architecture;
  config: TransformerConfig;
  /** The file under GGUF tensor names (a renamed view for a Hugging Face directory). */
  file: ModelFile;
}

/** Finds the family, names the tensors as GGUF does, and reads the config. */
export function resolveModel(mf: ModelFile): ResolvedModel {
  const architecture = architectureOf(mf);
  const file = mf.format === 'safetensors' ? mf.renamed((n) => architecture.hfTensorName(n)) : mf;
  const config = architecture.config(file);
  checkModelConfig(config, mf);
  return { architecture, config, file };
}
