/**
 * Chooses the model family from what the file says it is (GGUF `general.architecture`, HF
 * `architectures[0]`, or llama2.c) and builds the Transformer. An unknown architecture is a clear
 * error that lists the supported ones.
 */
import type { Backend } from '../backend/types.js';
import type { ModelFile } from '../formats/model-file.js';
import type { TransformerConfig } from './config.js';
import { gpt2Weights } from './gpt2.js';
import { llamaWeights } from './llama.js';
import { Transformer, type TransformerOptions } from './transformer.js';
import type { TransformerWeights } from './weights.js';

export const SUPPORTED_ARCHITECTURES = {
  gguf: ['llama', 'mistral', 'qwen2', 'gpt2'],
  huggingface: ['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'GPT2LMHeadModel'],
  llama2c: ['llama2.c .bin'],
} as const;

export class UnsupportedArchitectureError extends Error {
  override readonly name = 'UnsupportedArchitectureError';
}

/** Our config for a model file; throws UnsupportedArchitectureError for anything we cannot run. */
export function modelConfig(mf: ModelFile): TransformerConfig {
  const c = mf.config;
  const supported = mf.format === 'gguf' ? SUPPORTED_ARCHITECTURES.gguf : SUPPORTED_ARCHITECTURES.huggingface;
  if (c.family === null || (mf.format === 'gguf' && !(supported as readonly string[]).includes(c.architecture))) {
    throw new UnsupportedArchitectureError(
      `tensorloom: ${mf.path}: unsupported architecture '${c.architecture}'; supported: ${[...SUPPORTED_ARCHITECTURES.gguf, ...SUPPORTED_ARCHITECTURES.huggingface].join(', ')}, and llama2.c .bin files`,
    );
  }
  if (mf.has('rope_freqs.weight')) throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: RoPE frequency factors (rope_freqs, Llama 3.1-style scaling) are not supported yet`);
  const scaling = mf.hfConfig?.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
  if (scaling && (scaling.rope_type ?? scaling.type) !== 'default') {
    throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: rope_scaling '${String(scaling.rope_type ?? scaling.type)}' is not supported yet`);
  }
  const { bos, eos } = specialTokens(mf);
  return {
    family: c.family,
    architecture: mf.format === 'llama2c' ? 'llama2.c' : c.architecture,
    vocabSize: c.vocabSize,
    dim: c.dim,
    nLayers: c.nLayers,
    nHeads: c.nHeads,
    nKvHeads: c.nKvHeads,
    headDim: c.headDim,
    hiddenDim: c.ffnDim,
    contextLength: c.contextLength,
    norm: c.norm,
    normEps: c.normEps,
    mlp: c.mlp,
    rope: c.positions === 'rope' ? { theta: c.ropeTheta, layout: c.ropeLayout, ...(c.ropeDims !== c.headDim ? { dims: c.ropeDims } : {}) } : null,
    qkvBias: mf.has('blk.0.attn_q.bias') || mf.has('blk.0.attn_qkv.bias'),
    outBias: mf.has('blk.0.attn_output.bias'),
    bosTokenId: bos,
    eosTokenIds: eos,
  };
}

function specialTokens(mf: ModelFile): { bos: number | null; eos: number[] } {
  const num = (v: unknown): number | null => (typeof v === 'number' && Number.isInteger(v) ? v : typeof v === 'bigint' ? Number(v) : null);
  if (mf.format === 'llama2c') return { bos: 1, eos: [2] }; // llama2.c's run.c / sentencepiece ids
  if (mf.gguf) {
    const m = mf.gguf.metadata;
    const eos = [num(m.get('tokenizer.ggml.eos_token_id')), num(m.get('tokenizer.ggml.eot_token_id'))].filter((x): x is number => x !== null);
    return { bos: num(m.get('tokenizer.ggml.bos_token_id')), eos: [...new Set(eos)] };
  }
  const h = mf.hfConfig ?? {};
  const e = h.eos_token_id;
  const eos = Array.isArray(e) ? e.map(num).filter((x): x is number => x !== null) : num(e) !== null ? [num(e)!] : [];
  return { bos: num(h.bos_token_id), eos };
}

/** Config and weights (views into the file where possible). */
export function describeModel(mf: ModelFile): { config: TransformerConfig; weights: TransformerWeights } {
  const config = modelConfig(mf);
  const weights = config.family === 'gpt2' ? gpt2Weights(mf, config.nLayers, config.dim) : llamaWeights(mf, config.nLayers);
  return { config, weights };
}

export function buildTransformer(mf: ModelFile, backend: Backend, options: TransformerOptions = {}): Transformer {
  const { config, weights } = describeModel(mf);
  return new Transformer(backend, config, weights, options);
}
