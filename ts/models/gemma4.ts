/**
 * gemma4: Gemma 4 text decoders (GGUF `gemma4`; Hugging Face Gemma4ForConditionalGeneration /
 * Gemma4ForCausalLM, whose text half lives under `text_config` and `model.language_model.`), as
 * llama.cpp's graph runs them:
 * - Gemma's sandwich block (RMSNorm before and after attention and MLP, GeGLU, embeddings × √dim,
 *   tied head, optional final logit soft-capping), but norms used as stored (no 1 + w, in GGUF and
 *   in the HF checkpoint alike: llama.cpp's converter adds nothing);
 * - sliding and global layers (`attention.sliding_window_pattern`, one flag per layer; HF
 *   `layer_types`) with their own head sizes (`attention.key_length_swa` vs `key_length`; HF
 *   `head_dim` vs `global_head_dim`), KV head counts (`attention.head_count_kv` may be per layer;
 *   HF `num_key_value_heads` vs `num_global_key_value_heads`), RoPE bases (`rope.freq_base_swa`
 *   vs `freq_base`) and rotated dims; the global layers divide their frequencies by
 *   `rope_freqs.weight` (1e30 leaves a pair unrotated: "proportional" RoPE; from a HF folder the
 *   factors come from `rope_parameters.full_attention.partial_rotary_factor`, as the converter
 *   writes them);
 * - per-head RMSNorm of q and k (weights) and of v (no weight); attention scores not scaled (1.0);
 *   q/k/v as three matrices or fused (`attn_qkv`, rows [q | k | v]); without `attn_v` the values
 *   are the keys' projection (HF `attention_k_eq_v`), normed without weight and not rotated;
 * - the last `attention.shared_kv_layers` layers keep no K/V: a sliding one reads the K/V of the
 *   last sliding layer with its own, a global one that of the last global layer (llama.cpp's
 *   n_layer_kv_from_start − 2 and − 1);
 * - per-layer inputs (`embedding_length_per_layer_input` > 0: E2B/E4B; ts/layers/per-layer-input.ts)
 *   added at the end of every block; files with 0 (the 26B/31B shapes) have none; then the block
 *   output times `layer_output_scale` when present;
 * - `feed_forward_length` may be per layer (double-wide MLP in the KV-shared layers).
 * - the 26B-A4B model's mixture-of-experts layers (ffn_gate_inp; ts/layers/gemma4-moe.ts): routed
 *   GeGLU experts beside the dense MLP, `expert_count` / `expert_used_count` /
 *   `expert_feed_forward_length` (HF num_experts / top_k_experts / moe_intermediate_size).
 */
import { FormatError } from '../formats/byte-source.js';
import { f32, u32, type GGUFWriteValue } from '../formats/gguf-writer.js';
import type { ModelFile, TensorRename } from '../formats/model-file.js';
import type { Backend } from '../backend/types.js';
import { Attention } from '../layers/attention.js';
import { Gemma4MoE } from '../layers/gemma4-moe.js';
import { MLP } from '../layers/mlp.js';
import type { FeedForward } from '../layers/token-mixer.js';
import { Linear } from '../layers/linear.js';
import { PerLayerInput } from '../layers/per-layer-input.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import { RopeTable } from '../layers/rope-table.js';
import { GGUFKeys, specialTokens, type Architecture } from './architecture.js';
import type { TransformerConfig } from './config.js';
import { linear, norm, sliceRows, type LinearWeights, type MixerLayerWeights, type TransformerWeights } from './weights.js';

/** The hyperparameters as either reader finds them, before the checks both share. */
interface Gemma4Params {
  /** The file (and section) the keys come from, for errors. */
  where: string;
  /** A GGUF key's name (without `gemma4.`) as this file spells it. */
  key: (gguf: string) => string;
  dim: number;
  nLayers: number;
  nHeads: number;
  headDim: number;
  swaHeadDim: number;
  kvHeads: number[];
  ffn: number[];
  swa: boolean[];
  window: number;
  contextLength: number;
  shared: number;
  ropeDims: number;
  swaRopeDims: number;
  freqFactors: Float32Array | undefined;
  vocab: number;
  finalCap: number | undefined;
  perLayer: number;
  theta: number;
  swaTheta: number;
  eps: number;
  /** The 26B-A4B model's routed experts (beside the dense MLP), or undefined. */
  experts: { experts: number; used: number; hiddenDim: number } | undefined;
}

function checkedExperts(where: string, names: [string, string, string], experts: number | undefined, used: number | undefined, hiddenDim: number | undefined): Gemma4Params['experts'] {
  if (!experts) return undefined;
  if (!used || !Number.isSafeInteger(used) || used < 1 || used > experts) throw new FormatError(`${where}: ${names[1]} (${used}) must be in [1, ${names[0]} = ${experts}]`);
  if (!hiddenDim || !Number.isSafeInteger(hiddenDim) || hiddenDim < 1) throw new FormatError(`${where}: ${names[2]} is ${hiddenDim === undefined ? 'missing' : `invalid (${hiddenDim})`}`);
  return { experts, used, hiddenDim };
}

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

function paramsFromGGUF(mf: ModelFile): Gemma4Params {
  const k = new GGUFKeys(mf);
  const nLayers = k.need('block_count');
  const nHeads = k.need('attention.head_count');
  const headDim = k.need('attention.key_length');
  const swaHeadDim = k.num('attention.key_length_swa') ?? headDim;
  if ((k.num('attention.value_length') ?? headDim) !== headDim || (k.num('attention.value_length_swa') ?? swaHeadDim) !== swaHeadDim) {
    throw new FormatError(`${k.where}: ${k.key('attention.value_length')} must equal key_length (and value_length_swa key_length_swa)`);
  }
  const raw = mf.gguf!.metadata.get(k.key('attention.sliding_window_pattern'));
  if (!Array.isArray(raw) || raw.length !== nLayers) throw new FormatError(`${k.where}: ${k.key('attention.sliding_window_pattern')} must be an array of ${nLayers} flags`);
  const ropeDims = k.num('rope.dimension_count') ?? headDim;
  const tokens = mf.gguf!.metadata.get('tokenizer.ggml.tokens');
  const vocab = k.num('vocab_size') ?? (Array.isArray(tokens) ? tokens.length : undefined) ?? mf.tensors.get('token_embd.weight')?.shape[0];
  if (!vocab) throw new FormatError(`${k.where}: the vocabulary size is unknown (no ${k.key('vocab_size')}, tokenizer.ggml.tokens or token_embd.weight)`);
  return {
    where: k.where,
    key: (x) => k.key(x),
    dim: k.need('embedding_length'),
    nLayers,
    nHeads,
    headDim,
    swaHeadDim,
    kvHeads: perLayer(k, 'attention.head_count_kv', nLayers, false) ?? Array.from({ length: nLayers }, () => nHeads),
    ffn: perLayer(k, 'feed_forward_length', nLayers, true)!,
    swa: raw.map((f) => Boolean(f)),
    window: k.need('attention.sliding_window'),
    contextLength: k.need('context_length'),
    shared: k.num('attention.shared_kv_layers') ?? 0,
    ropeDims,
    swaRopeDims: k.num('rope.dimension_count_swa') ?? ropeDims,
    freqFactors: mf.has('rope_freqs.weight') ? mf.vector('rope_freqs.weight') : undefined,
    vocab,
    finalCap: k.num('final_logit_softcapping'),
    perLayer: k.num('embedding_length_per_layer_input') ?? 0,
    theta: k.num('rope.freq_base') ?? 10000,
    swaTheta: k.num('rope.freq_base_swa') ?? 10000,
    eps: k.num('attention.layer_norm_rms_epsilon') ?? 1e-6,
    experts: checkedExperts(k.where, [k.key('expert_count'), k.key('expert_used_count'), k.key('expert_feed_forward_length')], k.num('expert_count'), k.num('expert_used_count'), k.num('expert_feed_forward_length')),
  };
}

/** config.json keys (under text_config) for the GGUF keys the shared checks name. */
const HF_KEY: Readonly<Record<string, string>> = {
  'attention.shared_kv_layers': 'num_kv_shared_layers',
  'attention.sliding_window': 'sliding_window',
  'attention.head_count_kv': 'num_key_value_heads / num_global_key_value_heads',
  'rope.dimension_count': 'global_head_dim × rope_parameters.full_attention.partial_rotary_factor',
  'embedding_length_per_layer_input': 'hidden_size_per_layer_input',
};

type Json = Readonly<Record<string, unknown>>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * From config.json, as llama.cpp's converter (Gemma4Model) turns it into GGUF keys: text_config
 * over the top level; head sizes and KV heads of the global layers from global_head_dim /
 * num_global_key_value_heads (or per_layer_config); double-wide MLP in the KV-shared layers.
 */
function paramsFromHF(mf: ModelFile): Gemma4Params {
  const top = mf.hfConfig!;
  const t: Json = isObject(top.text_config) ? { ...top, ...top.text_config } : top;
  const where = `${mf.path}/config.json${isObject(top.text_config) ? ' (text_config)' : ''}`;
  const num = (key: string): number | undefined => (typeof t[key] === 'number' ? (t[key] as number) : undefined);
  const need = (key: string): number => {
    const v = num(key);
    if (v === undefined || !Number.isSafeInteger(v) || v <= 0) throw new FormatError(`${where}: ${key} is ${v === undefined ? 'missing' : `invalid (${v})`}`);
    return v;
  };
  const nLayers = need('num_hidden_layers');
  const types = t.layer_types;
  if (!Array.isArray(types) || types.length !== nLayers || types.some((x) => x !== 'sliding_attention' && x !== 'full_attention')) {
    throw new FormatError(`${where}: layer_types must list ${nLayers} of 'sliding_attention' / 'full_attention'`);
  }
  const swa = types.map((x) => x === 'sliding_attention');
  // per_layer_config: the first global layer's entry, when the top-level keys are absent
  const perLayerConfig = isObject(t.per_layer_config) ? t.per_layer_config : {};
  const fromFirstGlobal = (key: string): number | undefined => {
    for (const [i, v] of Object.entries(perLayerConfig)) if (!swa[Number(i)] && isObject(v) && typeof v[key] === 'number') return v[key] as number;
    return undefined;
  };
  const swaHeadDim = need('head_dim');
  const headDim = num('global_head_dim') ?? fromFirstGlobal('head_dim');
  if (headDim === undefined) throw new FormatError(`${where}: global_head_dim is missing (nor a full_attention layer's head_dim in per_layer_config)`);
  const swaKv = num('num_key_value_heads') ?? need('num_attention_heads');
  const fullKv = num('num_global_key_value_heads') ?? fromFirstGlobal('num_key_value_heads') ?? swaKv;
  const shared = num('num_kv_shared_layers') ?? 0;
  const ff = need('intermediate_size');
  const doubleWide = t.use_double_wide_mlp === true;
  const rope = isObject(t.rope_parameters) ? t.rope_parameters : {};
  const full = isObject(rope.full_attention) ? rope.full_attention : rope;
  const sliding = isObject(rope.sliding_attention) ? rope.sliding_attention : {};
  if (full.rope_type !== undefined && full.rope_type !== 'proportional' && full.rope_type !== 'default') {
    throw new FormatError(`${where}: rope_parameters.full_attention.rope_type '${String(full.rope_type)}' is not supported (proportional or default)`);
  }
  // proportional RoPE: the first partial_rotary_factor of the pairs rotate, the rest get 1e30
  const fraction = typeof full.partial_rotary_factor === 'number' ? full.partial_rotary_factor : 1;
  const pairs = headDim / 2;
  const rotated = Math.trunc((headDim * fraction) / 2);
  const freqFactors = rotated < pairs ? Float32Array.from({ length: pairs }, (_, i) => (i < rotated ? 1 : 1e30)) : undefined;
  // the converter takes the sliding layers' rotated fraction from the top of rope_parameters
  const swaFraction = typeof rope.partial_rotary_factor === 'number' ? rope.partial_rotary_factor : 1;
  const finalCap = num('final_logit_softcapping');
  return {
    where,
    key: (x) => HF_KEY[x] ?? x,
    dim: need('hidden_size'),
    nLayers,
    nHeads: need('num_attention_heads'),
    headDim,
    swaHeadDim,
    kvHeads: swa.map((s) => (s ? swaKv : fullKv)),
    ffn: swa.map((_, i) => (doubleWide && i >= nLayers - shared ? 2 * ff : ff)),
    swa,
    window: need('sliding_window'),
    contextLength: need('max_position_embeddings'),
    shared,
    ropeDims: headDim,
    swaRopeDims: Math.trunc(swaHeadDim * swaFraction),
    freqFactors,
    vocab: need('vocab_size'),
    finalCap: finalCap ? finalCap : undefined,
    perLayer: num('hidden_size_per_layer_input') ?? 0,
    theta: typeof full.rope_theta === 'number' ? full.rope_theta : 1000000,
    swaTheta: typeof sliding.rope_theta === 'number' ? sliding.rope_theta : 10000,
    eps: num('rms_norm_eps') ?? 1e-6,
    experts: t.enable_moe_block === false
      ? undefined
      : checkedExperts(where, ['num_experts', 'top_k_experts', 'moe_intermediate_size'], num('num_experts') ?? num('num_local_experts'), num('top_k_experts') ?? num('num_experts_per_tok'), num('moe_intermediate_size') ?? num('expert_intermediate_size')),
  };
}

function gemma4Config(mf: ModelFile): TransformerConfig {
  const p = mf.gguf ? paramsFromGGUF(mf) : paramsFromHF(mf);
  const { where, key, nLayers, nHeads, headDim, swaHeadDim, swa, window, contextLength, shared, ropeDims, swaRopeDims, freqFactors } = p;
  if (window > contextLength) throw new FormatError(`${where}: ${key('attention.sliding_window')} (${window}) is larger than the context length (${contextLength})`);
  const kvStart = nLayers - shared;
  if (!Number.isInteger(shared) || shared < 0 || (shared > 0 && (kvStart < 2 || !swa[kvStart - 2] || swa[kvStart - 1]))) {
    throw new FormatError(`${where}: ${key('attention.shared_kv_layers')} = ${shared}: the last layer with K/V must be global and the one before it sliding (llama.cpp's rule)`);
  }
  const sharedFrom = swa.map((s, i) => (i < kvStart ? null : kvStart - (s ? 2 : 1)));
  const shapes = swa.map((s, i) => ({ kvHeads: p.kvHeads[i]!, headDim: s ? swaHeadDim : headDim }));
  for (let i = 0; i < nLayers; i++) {
    if (nHeads % shapes[i]!.kvHeads !== 0) throw new FormatError(`${where}: layer ${i}: ${nHeads} heads are not a multiple of ${shapes[i]!.kvHeads} KV heads (${key('attention.head_count_kv')})`);
  }
  const full = swa.findIndex((s) => !s);
  if (ropeDims > headDim || swaRopeDims > swaHeadDim || ropeDims % 2 || swaRopeDims % 2) {
    throw new FormatError(`${where}: ${key('rope.dimension_count')} (${ropeDims}) / _swa (${swaRopeDims}) must be even and at most the head size (${headDim} / ${swaHeadDim})`);
  }
  if (freqFactors && freqFactors.length !== ropeDims / 2) throw new FormatError(`${where}: rope_freqs.weight has ${freqFactors.length} elements, expected ${ropeDims / 2} (rope.dimension_count / 2)`);
  if (!Number.isInteger(p.perLayer) || p.perLayer < 0) throw new FormatError(`${where}: ${key('embedding_length_per_layer_input')} must be a non-negative integer, got ${p.perLayer}`);
  const { bos, eos } = specialTokens(mf);
  return {
    family: 'gemma4',
    architecture: mf.architecture,
    vocabSize: p.vocab,
    dim: p.dim,
    nLayers,
    nHeads,
    // the first global layer's shape (every layer's is in kvLayout)
    nKvHeads: shapes[full === -1 ? 0 : full]!.kvHeads,
    headDim: shapes[full === -1 ? 0 : full]!.headDim,
    hiddenDim: Math.max(...p.ffn),
    layerHiddenDims: p.ffn,
    contextLength,
    norm: 'rmsnorm',
    normEps: p.eps,
    mlp: 'geglu',
    rope: { theta: p.theta, layout: 'half', ...(ropeDims !== headDim ? { dims: ropeDims } : {}) },
    ...(freqFactors ? { ropeScaling: { type: 'llama3' as const, factor: 1, freqFactors } } : {}),
    swaRopeTheta: p.swaTheta,
    swaRopeDims,
    qkvBias: false,
    outBias: false,
    qkNorm: true,
    embedScale: Math.sqrt(p.dim),
    attnScale: 1,
    ...(p.finalCap ? { finalSoftcap: p.finalCap } : {}),
    slidingWindow: { size: window, layers: swa, key: key('attention.sliding_window') },
    postNorms: true,
    kvLayout: { shapes, sharedFrom },
    ...(p.perLayer > 0 ? { perLayerInput: p.perLayer } : {}),
    ...(p.experts ? { sideExperts: p.experts } : {}),
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
  const P = c.perLayerInput ?? 0;
  const eps = c.normEps;
  // one table for every global layer (it grows with the positions reached)
  let table: RopeTable | null = null;
  const layers: MixerLayerWeights[] = [];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}`;
    const { kvHeads, headDim: D } = kv.shapes[i]!;
    const slides = swa.layers![i]!;
    const sharedKv = kv.sharedFrom[i] !== null;
    const moe = mf.has(`${p}.ffn_gate_inp.weight`) ? expertLayer(mf, c, i) : null;
    const qRows = c.nHeads * D;
    const kvRows = kvHeads * D;
    let q: LinearWeights;
    let k: LinearWeights | null = null;
    let v: LinearWeights | null = null;
    if (mf.has(`${p}.attn_qkv.weight`)) {
      // fused rows [q | k | v] (llama.cpp sizes them so in every layer; the KV-shared ones use q only)
      const qkv = checked(linear(mf, `${p}.attn_qkv`), `${p}.attn_qkv.weight`, qRows + 2 * kvRows, c.dim).weight;
      q = { weight: sliceRows(qkv, 0, qRows), bias: null };
      if (!sharedKv) {
        k = { weight: sliceRows(qkv, qRows, qRows + kvRows), bias: null };
        v = { weight: sliceRows(qkv, qRows + kvRows, qRows + 2 * kvRows), bias: null };
      }
    } else {
      q = checked(linear(mf, `${p}.attn_q`), `${p}.attn_q.weight`, qRows, c.dim);
      if (!sharedKv) {
        k = checked(linear(mf, `${p}.attn_k`), `${p}.attn_k.weight`, kvRows, c.dim);
        // no attn_v (HF attention_k_eq_v): the values are the keys' projection
        v = mf.has(`${p}.attn_v.weight`) ? checked(linear(mf, `${p}.attn_v`), `${p}.attn_v.weight`, kvRows, c.dim) : k;
      }
    }
    const o = checked(linear(mf, `${p}.attn_output`), `${p}.attn_output.weight`, c.dim, qRows);
    const qNorm = vector(mf, `${p}.attn_q_norm.weight`, D);
    const kNorm = sharedKv ? null : vector(mf, `${p}.attn_k_norm.weight`, D);
    const ropeDims = slides ? c.swaRopeDims! : (c.rope!.dims ?? c.headDim);
    layers.push({
      attnNorm: norm(mf, `${p}.attn_norm`),
      // an MoE layer's feed-forward applies its own norm weights to the block's unweighted rms_norm
      mlpNorm: moe ? { weight: new Float32Array(c.dim).fill(1), bias: null } : norm(mf, `${p}.ffn_norm`),
      ...(moe ? { wrapFfn: moe } : {}),
      postAttnNorm: norm(mf, `${p}.post_attention_norm`),
      postMlpNorm: norm(mf, `${p}.post_ffw_norm`),
      gate: linear(mf, `${p}.ffn_gate`),
      up: linear(mf, `${p}.ffn_up`),
      down: linear(mf, `${p}.ffn_down`),
      mixer: (backend) => {
        const lin = (w: LinearWeights | null) => (w ? new Linear(backend, w.weight, w.bias) : null);
        const scaling = c.ropeScaling;
        if (!slides && scaling && !table) table = new RopeTable({ theta: c.rope!.theta, layout: 'half', dims: ropeDims, scaling, backend });
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
  const outScales = Array.from({ length: L }, (_, i) => (mf.has(`blk.${i}.layer_output_scale.weight`) ? vector(mf, `blk.${i}.layer_output_scale.weight`, 1)[0]! : null));
  const inputs = P > 0 ? perLayerInputWeights(mf, c, P) : null;
  return {
    tokenEmbedding,
    positionEmbedding: null,
    layers,
    finalNorm: norm(mf, 'output_norm'),
    lmHead: mf.has('output.weight') ? mf.weights('output.weight') : tokenEmbedding,
    perLayerInput: inputs || outScales.some((s) => s !== null)
      ? (backend) => new PerLayerInput(backend, {
        inputs: inputs && {
          tokenTable: inputs.tokenTable,
          modelProj: new Linear(backend, inputs.modelProj.weight),
          projNorm: new RMSNorm(backend, inputs.projNorm, c.normEps),
          layers: inputs.layers.map((t) => ({ gate: new Linear(backend, t.gate.weight), proj: new Linear(backend, t.proj.weight), postNorm: new RMSNorm(backend, t.postNorm, c.normEps) })),
          perLayer: P,
        },
        outScales,
        dim: c.dim,
      })
      : null,
  };
}

/**
 * Layer i's routed experts (26B-A4B), as a wrapper around the dense MLP the Transformer builds:
 * ffn_gate_inp (+ .scale), ffn_gate_up_exps or ffn_gate_exps + ffn_up_exps, ffn_down_exps
 * (+ .scale), pre_ffw_norm_2, post_ffw_norm_1 / _2 (ts/layers/gemma4-moe.ts).
 */
function expertLayer(mf: ModelFile, c: TransformerConfig, i: number): (backend: Backend, dense: FeedForward) => FeedForward {
  const p = `blk.${i}`;
  const x = c.sideExperts;
  if (!x) throw new FormatError(`${mf.path}: ${p}.ffn_gate_inp.weight routes to experts, but the file declares no expert_count (gemma4.expert_count / num_experts)`);
  const { experts: E, hiddenDim: F, used } = x;
  const router = checked(linear(mf, `${p}.ffn_gate_inp`), `${p}.ffn_gate_inp.weight`, E, c.dim);
  const stacked = (name: string, rows: number, cols: number) => {
    const shape = mf.tensors.get(name)?.shape;
    if (!shape) throw new FormatError(`${mf.path}: tensor '${name}' is missing`);
    if (shape.length !== 3 || shape[0] !== E || shape[1] !== rows || shape[2] !== cols) throw new FormatError(`${mf.path}: ${name} is [${shape.join(', ')}], expected [${E}, ${rows}, ${cols}] (experts, out, in)`);
    return mf.weights(name);
  };
  const gateUp = mf.has(`${p}.ffn_gate_up_exps.weight`) ? stacked(`${p}.ffn_gate_up_exps.weight`, 2 * F, c.dim) : null;
  const gate = gateUp ? null : stacked(`${p}.ffn_gate_exps.weight`, F, c.dim);
  const up = gateUp ? null : stacked(`${p}.ffn_up_exps.weight`, F, c.dim);
  const down = stacked(`${p}.ffn_down_exps.weight`, c.dim, F);
  const parts = Array.from({ length: E }, (_, e) => ({
    gate: gateUp ? sliceRows(gateUp, 2 * F * e, 2 * F * e + F) : sliceRows(gate!, F * e, F * (e + 1)),
    up: gateUp ? sliceRows(gateUp, 2 * F * e + F, 2 * F * (e + 1)) : sliceRows(up!, F * e, F * (e + 1)),
    down: sliceRows(down, c.dim * e, c.dim * (e + 1)),
  }));
  const ffnNorm = vector(mf, `${p}.ffn_norm.weight`, c.dim);
  const preNorm2 = vector(mf, `${p}.pre_ffw_norm_2.weight`, c.dim);
  const postNorm1 = vector(mf, `${p}.post_ffw_norm_1.weight`, c.dim);
  const postNorm2 = vector(mf, `${p}.post_ffw_norm_2.weight`, c.dim);
  const routerScale = vector(mf, `${p}.ffn_gate_inp.scale`, c.dim);
  const expertScale = mf.has(`${p}.ffn_down_exps.scale`) ? vector(mf, `${p}.ffn_down_exps.scale`, E) : null;
  return (backend, dense) => new Gemma4MoE(backend, {
    dim: c.dim,
    ffnNorm,
    dense,
    postNorm1: new RMSNorm(backend, postNorm1, c.normEps),
    preNorm2,
    router: new Linear(backend, router.weight),
    routerScale,
    experts: parts.map((e) => new MLP(backend, { kind: 'geglu', gate: new Linear(backend, e.gate), up: new Linear(backend, e.up), down: new Linear(backend, e.down) })),
    expertScale,
    used,
    postNorm2: new RMSNorm(backend, postNorm2, c.normEps),
  });
}

/** The per-layer input tensors (E2B/E4B), checked against the config. */
function perLayerInputWeights(mf: ModelFile, c: TransformerConfig, P: number) {
  const L = c.nLayers;
  const tokenTable = mf.weights('per_layer_token_embd.weight');
  if (tokenTable.rows !== c.vocabSize || tokenTable.cols !== L * P) throw new FormatError(`${mf.path}: per_layer_token_embd.weight is [${tokenTable.rows}, ${tokenTable.cols}], expected [${c.vocabSize}, ${L * P}]`);
  return {
    tokenTable,
    modelProj: checked(linear(mf, 'per_layer_model_proj'), 'per_layer_model_proj.weight', L * P, c.dim),
    projNorm: vector(mf, 'per_layer_proj_norm.weight', P),
    layers: Array.from({ length: L }, (_, i) => {
      const p = `blk.${i}`;
      return {
        gate: checked(linear(mf, `${p}.inp_gate`), `${p}.inp_gate.weight`, P, c.dim),
        proj: checked(linear(mf, `${p}.proj`), `${p}.proj.weight`, c.dim, P),
        postNorm: vector(mf, `${p}.post_norm.weight`, c.dim),
      };
    }),
  };
}


// ── Hugging Face names ─────────────────────────────────────────────────────────────────────────

const HF_FIXED: Readonly<Record<string, string>> = {
  'model.embed_tokens.weight': 'token_embd.weight',
  'model.norm.weight': 'output_norm.weight',
  'model.embed_tokens_per_layer.weight': 'per_layer_token_embd.weight',
  'model.per_layer_model_projection.weight': 'per_layer_model_proj.weight',
  'model.per_layer_projection_norm.weight': 'per_layer_proj_norm.weight',
};

/** model.layers.N.<part> → blk.N.<GGUF part> (llama.cpp's tensor_mapping for gemma4). */
const HF_PARTS: Readonly<Record<string, string>> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'self_attn.q_norm.weight': 'attn_q_norm.weight',
  'self_attn.k_norm.weight': 'attn_k_norm.weight',
  'post_attention_layernorm.weight': 'post_attention_norm.weight',
  'pre_feedforward_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
  'post_feedforward_layernorm.weight': 'post_ffw_norm.weight',
  'per_layer_input_gate.weight': 'inp_gate.weight',
  'per_layer_projection.weight': 'proj.weight',
  'post_per_layer_input_norm.weight': 'post_norm.weight',
  layer_scalar: 'layer_output_scale.weight',
  // the 26B-A4B mixture of experts (named so that the refusal names the GGUF tensor)
  'router.proj.weight': 'ffn_gate_inp.weight',
  'router.scale': 'ffn_gate_inp.scale',
  'router.per_expert_scale': 'ffn_down_exps.scale',
  'experts.gate_up_proj': 'ffn_gate_up_exps.weight',
  'experts.down_proj': 'ffn_down_exps.weight',
  'pre_feedforward_layernorm_2.weight': 'pre_ffw_norm_2.weight',
  'post_feedforward_layernorm_1.weight': 'post_ffw_norm_1.weight',
  'post_feedforward_layernorm_2.weight': 'post_ffw_norm_2.weight',
};

/**
 * HF → GGUF names of the text model (`model.language_model.` as in Gemma4ForConditionalGeneration,
 * or `model.`); the vision and audio towers and the tied lm_head are not weights of it.
 */
function gemma4HfName(name: string): TensorRename | null {
  const n = name.replace(/^model\.language_model\./, 'model.');
  const fixed = HF_FIXED[n];
  if (fixed) return { name: fixed };
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(n);
  const part = m ? HF_PARTS[m[2]!] : undefined;
  return part ? { name: `blk.${m![1]}.${part}` } : null;
}

export const gemma4: Architecture = {
  family: 'gemma4',
  gguf: ['gemma4'],
  huggingface: ['Gemma4ForConditionalGeneration', 'Gemma4ForCausalLM', 'gemma4', 'gemma4_text'],
  ggufName: 'gemma4',
  permuteQK: false,
  config: gemma4Config,
  hfTensorName: gemma4HfName,
  weights: gemma4Weights,
  // the converter writes the global layers' proportional-RoPE factors (generate_extra_tensors)
  extraTensors: (c) => (c.ropeScaling?.freqFactors ? [{ name: 'rope_freqs.weight', data: Float32Array.from(c.ropeScaling.freqFactors) }] : []),
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
    const x = c.sideExperts;
    if (x) meta.push([a('expert_count'), u32(x.experts)], [a('expert_used_count'), u32(x.used)], [a('expert_feed_forward_length'), u32(x.hiddenDim)]);
    return meta;
  },
};
