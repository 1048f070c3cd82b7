/** Every fuzz target, in the order the driver runs them. */
import type { FuzzTarget } from '../target.js';
import { http } from './http.js';
import { kernels } from './kernels.js';
import { gguf, llama2c, safetensors } from './model-files.js';
import { ggufVocab, tokBin, tokenizerJson } from './tokenizers.js';

export const TARGETS: readonly FuzzTarget<never>[] = [gguf, safetensors, llama2c, tokenizerJson, tokBin, ggufVocab, kernels, http] as unknown as FuzzTarget<never>[];
