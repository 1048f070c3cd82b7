/**
 * Converting any model tensorloom runs to a GGUF that llama.cpp loads: the family (from the
 * architecture table) decides the architecture name, the hyperparameter keys and the Q/K
 * permutation; ts/formats/convert.ts writes tensors and tokenizer.
 */
import { convertToGGUF, ggufFromModel, type ConvertOptions, type ConvertTarget } from '../formats/convert.js';
import type { GGUFWriteInput } from '../formats/gguf-writer.js';
import type { ModelFile } from '../formats/model-file.js';
import { resolveModel, type ResolvedModel } from './architectures.js';
import { expertStacks } from './experts.js';

export function convertTarget(r: ResolvedModel, source: ModelFile): ConvertTarget {
  const { architecture: a, config: c } = r;
  // HF checkpoints keep rotate_half Q/K rows; llama.cpp's converter permutes them for these families.
  const permute = a.permuteQK && source.format === 'safetensors';
  return {
    arch: a.ggufName,
    metadata: a.ggufMetadata(c),
    vocabSize: c.vocabSize,
    shape: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads },
    extraTensors: (a.extraTensors?.(c) ?? []).filter((t) => !r.file.has(t.name)),
    stacks: expertStacks(r.file),
    ...(a.hfShift && source.format === 'safetensors' ? { shift: (name: string) => a.hfShift!(name) } : {}),
    permuteHeads: (name) => (!permute ? 0 : /\.attn_q\.(weight|bias)$/.test(name) ? c.nHeads : /\.attn_k\.(weight|bias)$/.test(name) ? c.nKvHeads : 0),
  };
}

/** The GGUF content for a model file (tensor data produced when written). */
export function modelToGGUF(mf: ModelFile, options: ConvertOptions = {}): GGUFWriteInput {
  const r = resolveModel(mf);
  return ggufFromModel(r.file, convertTarget(r, mf), options);
}

/** Converts a model file (GGUF, HF directory, llama2.c) to GGUF at `out`; returns the bytes written. */
export function convertModel(mf: ModelFile, out: string, options: ConvertOptions = {}): number {
  const r = resolveModel(mf);
  return convertToGGUF(r.file, convertTarget(r, mf), out, options);
}
