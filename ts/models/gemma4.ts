/**
 * gemma4: Gemma 4 E2B/E4B-style text decoders (GGUF `gemma4`), as llama.cpp's graph runs them:
 * - Gemma's sandwich block (RMSNorm before and after attention and MLP, GeGLU, embeddings × √dim,
 *   tied head, optional final logit soft-capping), but norms used as stored (no 1 + w);
 * - sliding and global layers (`attention.sliding_window_pattern`, one flag per layer) with their
 *   own head sizes (`attention.key_length_swa` vs `key_length`), KV head counts
 *   (`attention.head_count_kv` may be per layer), RoPE bases (`rope.freq_base_swa` vs `freq_base`)
 *   and rotated dims (`rope.dimension_count_swa` vs `dimension_count`); the global layers divide
 *   their frequencies by `rope_freqs.weight` (1e30 leaves a pair unrotated: "proportional" RoPE);
 * - per-head RMSNorm of q and k (weights) and of v (no weight); attention scores not scaled (1.0);
 * - the last `attention.shared_kv_layers` layers keep no K/V: a sliding one reads the K/V of the
 *   last sliding layer with its own, a global one that of the last global layer (llama.cpp's
 *   n_layer_kv_from_start − 2 and − 1);
 * - per-layer inputs (`embedding_length_per_layer_input`, ts/layers/per-layer-input.ts) added at the
 *   end of every block, then the block output times `layer_output_scale` when present;
 * - `feed_forward_length` may be per layer (double-wide MLP in the KV-shared layers).
 * Not run: the MoE variant (ffn_gate_inp), fused attn_qkv, v = k (no attn_v), and Hugging Face
 * folders (convert with llama.cpp's converter).
 */
import { FormatError } from '../formats/byte-source.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile } from '../formats/model-file.js';
import { Attention } from '../layers/attention.js';
import { Linear } from '../layers/linear.js';
import { PerLayerInput } from '../layers/per-layer-input.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import { RopeTable } from '../layers/rope-table.js';
import { GGUFKeys, specialTokens, UnsupportedArchitectureError, type Architecture } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { linear, norm, type LinearWeights, type MixerLayerWeights, type TransformerWeights } from './weights.js';

/** A GGUF key holding one number or one per layer. */
function perLayer(k: GGUFKeys, key: string, nLayers: number, required: boolean): number[] | undefined {
  const raw = k.mf.gguf!.metadata.get(k.key(key));
  if (raw === undefined) {
    if (required) throw new FormatError(`${k.where}: ${k.key(key)} is missing`);
    return undefined;
  }
  const list = typeof raw === 'number' ? Array.from({ length: nLayers }, () => raw) : Array.isArray(raw) || ArrayBuffer.isView(raw) ? Array.from(raw as ArrayLike<unknown>, Number) : null;
  if (!list || list.length !== nLayers || list.some((v) => !Number.isSafeInteger(v) || v < 1)) {
    throw new FormatError(`${k.where}: ${k.key(key)} must be a positive integer or one per layer (${nLayers})`);
  }
  return list;
}

function gemma4Config(mf: ModelFile): TransformerConfig {
  if (!mf.gguf) throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: gemma4 runs from GGUF files only (convert the Hugging Face folder with llama.cpp's converter)`);
  const k = new GGUFKeys(mf);
  const dim = k.need('embedding_length');
  const nLayers = k.need('block_count');
  const nHeads = k.need('attention.head_count');
  const headDim = k.need('attention.key_length');
  const swaHeadDim = k.num('attention.key_length_swa') ?? headDim;
  if ((k.num('attention.value_length') ?? headDim) !== headDim || (k.num('attention.value_length_swa') ?? swaHeadDim) !== swaHeadDim) {
    throw new FormatError(`${k.where}: ${k.key('attention.value_length')} must equal key_length (and value_length_swa key_length_swa)`);
  }
  const kvHeads = perLayer(k, 'attention.head_count_kv', nLayers, false) ?? Array.from({ length: nLayers }, () => nHeads);
  const ffn = perLayer(k, 'feed_forward_length', nLayers, true)!;
  const raw = mf.gguf.metadata.get(k.key('attention.sliding_window_pattern'));
  if (!Array.isArray(raw) || raw.length !== nLayers) throw new FormatError(`${k.where}: ${k.key('attention.sliding_window_pattern')} must be an array of ${nLayers} flags`);
  const swa = raw.map((f) => Boolean(f));
  const window = k.need('attention.sliding_window');
  const contextLength = k.need('context_length');
  if (window > contextLength) throw new FormatError(`${k.where}: ${k.key('attention.sliding_window')} (${window}) is larger than the context length (${contextLength})`);
  const shared = k.num('attention.shared_kv_layers') ?? 0;
  const kvStart = nLayers - shared;
  if (!Number.isInteger(shared) || shared < 0 || (shared > 0 && (kvStart < 2 || !swa[kvStart - 2] || swa[kvStart - 1]))) {
    throw new FormatError(`${k.where}: ${k.key('attention.shared_kv_layers')} = ${shared}: the last layer with K/V must be global and the one before it sliding (llama.cpp's rule)`);
  }
  const sharedFrom = swa.map((s, i) => (i < kvStart ? null : kvStart - (s ? 2 : 1)));
  const shapes = swa.map((s, i) => ({ kvHeads: kvHeads[i]!, headDim: s ? swaHeadDim : headDim }));
  for (let i = 0; i < nLayers; i++) {
    if (nHeads % shapes[i]!.kvHeads !== 0) throw new FormatError(`${k.where}: layer ${i}: ${nHeads} heads are not a multiple of ${shapes[i]!.kvHeads} KV heads (${k.key('attention.head_count_kv')})`);
  }
  const full = swa.findIndex((s) => !s);
  const ropeDims = k.num('rope.dimension_count') ?? headDim;
  const swaRopeDims = k.num('rope.dimension_count_swa') ?? ropeDims;
  if (ropeDims > headDim || swaRopeDims > swaHeadDim || ropeDims % 2 || swaRopeDims % 2) {
    throw new FormatError(`${k.where}: ${k.key('rope.dimension_count')} (${ropeDims}) / _swa (${swaRopeDims}) must be even and at most the head size (${headDim} / ${swaHeadDim})`);
  }
  const freqFactors = mf.has('rope_freqs.weight') ? mf.vector('rope_freqs.weight') : undefined;
  if (freqFactors && freqFactors.length !== ropeDims / 2) throw new FormatError(`${k.where}: rope_freqs.weight has ${freqFactors.length} elements, expected ${ropeDims / 2} (rope.dimension_count / 2)`);
  const tokens = mf.gguf.metadata.get('tokenizer.ggml.tokens');
  const vocab = k.num('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? mf.tensors.get('token_embd.weight')?.shape[0];
  if (!vocab) throw new FormatError(`${k.where}: the vocabulary size is unknown (no ${k.key('vocab_size')}, tokenizer.ggml.tokens or token_embd.weight)`);
  const finalCap = k.num('final_logit_softcapping');
  const ple = k.num('embedding_length_per_layer_input') ?? 0;
  if (!(ple > 0)) throw new UnsupportedArchitectureError(`tensorloom: ${k.where}: gemma4 without per-layer inputs (${k.key('embedding_length_per_layer_input')} = 0: the 26B/31B models) is not supported`);
  const { bos, eos } = specialTokens(mf);
  return {
    family: 'gemma4',
    architecture: mf.architecture,
    vocabSize: vocab,
    dim,
    nLayers,
    nHeads,
    // the first global layer's shape (every layer's is in kvLayout)
    nKvHeads: shapes[full === -1 ? 0 : full]!.kvHeads,
    headDim: shapes[full === -1 ? 0 : full]!.headDim,
    hiddenDim: Math.max(...ffn),
    layerHiddenDims: ffn,
    contextLength,
    norm: 'rmsnorm',
    normEps: k.num('attention.layer_norm_rms_epsilon') ?? 1e-6,
    mlp: 'geglu',
    rope: { theta: k.num('rope.freq_base') ?? 10000, layout: 'half', ...(ropeDims !== headDim ? { dims: ropeDims } : {}) },
    ...(freqFactors ? { ropeScaling: { type: 'llama3' as const, factor: 1, freqFactors } } : {}),
    swaRopeTheta: k.num('rope.freq_base_swa') ?? 10000,
    swaRopeDims,
    qkvBias: false,
    outBias: false,
    qkNorm: true,
    embedScale: Math.sqrt(dim),
    attnScale: 1,
    ...(finalCap ? { finalSoftcap: finalCap } : {}),
    slidingWindow: { size: window, layers: swa, key: k.key('attention.sliding_window') },
    postNorms: true,
    kvLayout: { shapes, sharedFrom },
    perLayerInput: ple,
    bosTokenId: bos,
    eosTokenIds: eos,
  };
}

function checked(w: LinearWeights, name: string, rows: number, cols: number): LinearWeights {
  if (w.weight.rows !== rows || w.weight.cols !== cols) throw new FormatError(`tensorloom: ${name} is [${w.weight.rows}, ${w.weight.cols}], expected [${rows}, ${cols}]`);
  return w;
}

function vector(mf: ModelFile, name: string, n: number): Float32Array {
  const v = mf.vector(name);
  if (v.length !== n) throw new FormatError(`${mf.path}: ${name} has ${v.length} elements, expected ${n}`);
  return v;
}

function gemma4Weights(mf: ModelFile, c: TransformerConfig): TransformerWeights {
  const kv = c.kvLayout!;
  const swa = c.slidingWindow!;
  const P = c.perLayerInput!;
  const eps = c.normEps;
  // one table for every global layer (it grows with the positions reached)
  let table: RopeTable | null = null;
  const layers: MixerLayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    const { kvHeads, headDim: D } = kv.shapes[i]!;
    const slides = swa.layers![i]!;
    const sharedKv = kv.sharedFrom[i] !== null;
    if (mf.has(`${p}.ffn_gate_inp.weight`)) throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: ${p}.ffn_gate_inp.weight: gemma4's mixture-of-experts layers are not supported`);
    if (mf.has(`${p}.attn_qkv.weight`)) throw new UnsupportedArchitectureError(`tensorloom: ${mf.path}: ${p}.attn_qkv.weight: gemma4 with fused q/k/v is not supported`);
    const q = checked(linear(mf, `${p}.attn_q`), `${p}.attn_q.weight`, c.nHeads * D, c.dim);
    const o = checked(linear(mf, `${p}.attn_output`), `${p}.attn_output.weight`, c.dim, c.nHeads * D);
    const k = sharedKv ? null : checked(linear(mf, `${p}.attn_k`), `${p}.attn_k.weight`, kvHeads * D, c.dim);
    const v = sharedKv ? null : checked(linear(mf, `${p}.attn_v`), `${p}.attn_v.weight`, kvHeads * D, c.dim);
    const qNorm = vector(mf, `${p}.attn_q_norm.weight`, D);
    const kNorm = sharedKv ? null : vector(mf, `${p}.attn_k_norm.weight`, D);
    const ropeDims = slides ? c.swaRopeDims! : (c.rope!.dims ?? c.headDim);
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      mlpNorm: norm(mf, `${p}.ffn_norm`),
      postAttnNorm: norm(mf, `${p}.post_attention_norm`),
      postMlpNorm: norm(mf, `${p}.post_ffw_norm`),
      gate: linear(mf, `${p}.ffn_gate`),
      up: linear(mf, `${p}.ffn_up`),
      down: linear(mf, `${p}.ffn_down`),
      mixer: (backend) => {
        const lin = (w: LinearWeights | null) => (w ? new Linear(backend, w.weight, w.bias) : null);
        const scaling = c.ropeScaling;
        if (!slides && scaling && !table) table = new RopeTable({ theta: c.rope!.theta, layout: 'half', dims: ropeDims, scaling });
        return new Attention(backend, {
          q: lin(q)!, k: lin(k), v: lin(v), o: lin(o)!,
          nHeads: c.nHeads, nKvHeads: kvHeads, headDim: D,
          rope: { theta: slides ? c.swaRopeTheta! : c.rope!.theta, layout: 'half', ...(ropeDims !== D ? { dims: ropeDims } : {}) },
          ropeTable: slides ? null : table,
          qNorm: new RMSNorm(backend, qNorm, eps),
          kNorm: kNorm ? new RMSNorm(backend, kNorm, eps) : null,
          vNorm: sharedKv ? null : new RMSNorm(backend, new Float32Array(D).fill(1), eps),
          scale: c.attnScale ?? 1,
          window: slides ? swa.size : null,
          sharedKv,
        });
      },
    });
  }
  const L = c.nLayers;
  const tokenEmbedding = mf.weights('token_embd.weight');
  const tokenTable = mf.weights('per_layer_token_embd.weight');
  if (tokenTable.rows !== c.vocabSize || tokenTable.cols !== L * P) throw new FormatError(`${mf.path}: per_layer_token_embd.weight is [${tokenTable.rows}, ${tokenTable.cols}], expected [${c.vocabSize}, ${L * P}]`);
  const modelProj = checked(linear(mf, 'per_layer_model_proj'), 'per_layer_model_proj.weight', L * P, c.dim);
  const projNorm = vector(mf, 'per_layer_proj_norm.weight', P);
  const tails = Array.from({ length: L }, (_, i) => {
    const p = `blk.${i}`;
    return {
      gate: checked(linear(mf, `${p}.inp_gate`), `${p}.inp_gate.weight`, P, c.dim),
      proj: checked(linear(mf, `${p}.proj`), `${p}.proj.weight`, c.dim, P),
      postNorm: vector(mf, `${p}.post_norm.weight`, c.dim),
      outScale: mf.has(`${p}.layer_output_scale.weight`) ? vector(mf, `${p}.layer_output_scale.weight`, 1)[0]! : null,
    };
  });
  return {
    tokenEmbedding,
    positionEmbedding: null,
    layers,
    finalNorm: norm(mf, 'output_norm'),
    lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding,
    perLayerInput: (backend) => new PerLayerInput(backend, {
      tokenTable,
      modelProj: new Linear(backend, modelProj.weight),
      projNorm: new RMSNorm(backend, projNorm, c.normEps),
      layers: tails.map((t) => ({ gate: new Linear(backend, t.gate.weight), proj: new Linear(backend, t.proj.weight), postNorm: new RMSNorm(backend, t.postNorm, c.normEps), outScale: t.outScale })),
      dim: c.dim,
      perLayer: P,
    }),
  };
}

export const gemma4: Architecture = {
  family: 'gemma4',
  gguf: ['gemma4'],
  huggingface: [],
  ggufName: 'gemma4',
  permuteQK: false,
  config: gemma4Config,
  hfTensorName: () => null,
  weights: gemma4Weights,
  ggufMetadata(c) {
    const a = (s: string) => `gemma4.${s}`;
    const kv = c.kvLayout!;
    const swa = c.slidingWindow!.layers!;
    const swaShape = kv.shapes[swa.indexOf(true)] ?? kv.shapes[0]!;
    const meta: [string, GGUFWriteValue][] = [
      [a('context_length'), u32(c.contextLength)],
      [a('embedding_length'), u32(c.dim)],
      [a('block_count'), u32(c.nLayers)],
      [a('feed_forward_length'), c.layerHiddenDims && new Set(c.layerHiddenDims).size > 1 ? Int32Array.from(c.layerHiddenDims) : u32(c.hiddenDim)],
      [a('attention.head_count'), u32(c.nHeads)],
      [a('attention.head_count_kv'), new Set(kv.shapes.map((s) => s.kvHeads)).size > 1 ? Int32Array.from(kv.shapes, (s) => s.kvHeads) : u32(c.nKvHeads)],
      [a('attention.layer_norm_rms_epsilon'), f32(c.normEps)],
      [a('attention.key_length'), u32(c.headDim)],
      [a('attention.value_length'), u32(c.headDim)],
      [a('attention.key_length_swa'), u32(swaShape.headDim)],
      [a('attention.value_length_swa'), u32(swaShape.headDim)],
      [a('attention.sliding_window'), u32(c.slidingWindow!.size)],
      [a('attention.sliding_window_pattern'), [...swa]],
      [a('attention.shared_kv_layers'), u32(kv.sharedFrom.filter((j) => j !== null).length)],
      [a('embedding_length_per_layer_input'), u32(c.perLayerInput ?? 0)],
      [a('rope.freq_base'), f32(c.rope!.theta)],
      [a('rope.freq_base_swa'), f32(c.swaRopeTheta ?? 10000)],
      [a('rope.dimension_count'), u32(c.rope!.dims ?? c.headDim)],
      [a('rope.dimension_count_swa'), u32(c.swaRopeDims ?? swaShape.headDim)],
    ];
    if (c.finalSoftcap) meta.push([a('final_logit_softcapping'), f32(c.finalSoftcap)]);
    return meta;
  },
};
