/**
 * The backend contract. Two implementations stand behind it: `native` (C++ SIMD kernels through
 * N-API) and `js` (plain loops on Float32Array: the reference baseline, and the fallback when the
 * addon cannot load). Layers and models only ever call this interface.
 *
 * Conventions (all ops):
 * - Tensors are flat typed arrays in row-major order; shapes are given by the dims arguments.
 * - Every op writes into a caller-provided `out` (no allocation per call); `out` may alias an
 *   input only where the op says so.
 * - A wrong shape, length or typed-array kind throws TypeError/RangeError naming the argument.
 */

import type { DType } from './weight-types.js';

/** Storage types of weights: the names of the rows of the weight-type table (./weight-types.ts). */
export type { DType } from './weight-types.js';

/**
 * A weight matrix as model files store it: row-major `[rows, cols]` (for a Linear layer,
 * `[out_features, in_features]`).
 * - f32: Float32Array of rows*cols
 * - f16 / bf16: Uint16Array of rows*cols (raw bits)
 * - every quantized type: Uint8Array of the GGUF blocks, rows * rowBytes(dtype, cols) bytes; cols
 *   must be a multiple of the type's block (see ./weight-types.ts)
 */
export interface Weights {
  readonly dtype: DType;
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array | Uint16Array | Uint8Array;
}

/** How RoPE pairs dimensions within a head. */
export type RopeLayout =
  /** pairs (0,1), (2,3), … — llama2.c and GGUF Llama */
  | 'interleaved'
  /** pairs (i, i + D/2) — Hugging Face Llama ("rotate_half") */
  | 'half';

/** A mixture's experts stacked as GGUF stores them: gate and up [E·hidden, dim], down [E·dim, hidden]. */
export interface StackedExperts {
  gate: Weights;
  up: Weights;
  down: Weights;
  /** E, the number of experts. */
  experts: number;
}

export interface RopeOptions {
  /** Base of the frequencies θ_i = theta^(-2i/dims). Llama: 10000. */
  theta: number;
  layout: RopeLayout;
  /** Rotate only the first `dims` dimensions of each head (partial rotary). Default: D. */
  dims?: number;
}

/**
 * Scaled RoPE's per-position cos/sin (ggml_rope_cache_init / rope_yarn), every quantity an f32:
 * the angle of pair i at position p is θ_i = p · powf(theta, -2/dims)^i accumulated by f32
 * multiplication, extrap = θ_i / freqFactors[i], interp = freqScale · extrap, YaRN's angle
 * interp · (1 - ramp[i]) + extrap · ramp[i], and cos/sin of it times mscale.
 */
export interface ScaledRopeTableParams {
  /** Rotated dimensions per head (even). */
  dims: number;
  /** Base of the frequencies (rope.freq_base). */
  theta: number;
  /** Position interpolation: 1 / factor (1: none). */
  freqScale: number;
  /** One divisor per rotated pair (Llama 3's rope_freqs, LongRoPE's factors), or null. */
  freqFactors: Float32Array | null;
  /** YaRN's ramp mix per rotated pair, or null (no YaRN blend). */
  ramp: Float32Array | null;
  /** Magnitude of cos/sin. */
  mscale: number;
}

export interface AttentionShape {
  /** Query positions in this call. */
  T: number;
  /** Key/value positions available (the KV cache length, including the T new ones). */
  S: number;
  /** Query heads. */
  H: number;
  /** Key/value heads; H must be a multiple of Hkv (grouped-query attention). */
  Hkv: number;
  /** Head dimension. */
  D: number;
  /** Absolute position of query row 0; with causal masking query t sees keys s ≤ posOffset + t. */
  posOffset: number;
  /** Default true. false = bidirectional (encoders); then every query sees all S keys. */
  causal?: boolean;
  /** Default 1/√D. */
  scale?: number;
  /**
   * If set, RoPE is applied inside the kernel: each query row t is rotated at position
   * posOffset + t (q itself is not modified), and the T newest key rows
   * s ∈ [posOffset, posOffset + T) are rotated in place in `k` (the cache then holds rotated keys,
   * so older rows are never rotated again).
   */
  rope?: RopeOptions;
  /**
   * A packed batch of sequences (encoders embedding texts of different lengths in one call, no
   * padding): offsets [0, b1, …, T] into the rows of q and of k/v; requires S === T and posOffset 0.
   * A query sees only the keys of its own sequence (all of them, or with `causal` those at or
   * before it), and RoPE positions restart at 0 in each sequence.
   */
  sequences?: Int32Array;
  /** Attention logit soft-capping (Gemma 2): each scaled score x becomes cap · tanh(x / cap). */
  softcap?: number;
  /**
   * An additive bias on the scores (T5's relative position buckets, ALiBi-style slopes), H·T·S
   * floats laid out as bias[(h·T + t)·S + s] for query head h, query row t and key s. Added to the
   * scaled score (after `scale`, and after `softcap` when both are set), before the causal mask and
   * the softmax. In a packed batch (`sequences`) s is the key's row in the call (S === T) and only
   * the entries of a query's own sequence are read. Finite values; −Infinity hides a key, but every
   * query row must keep at least one visible key with a finite score.
   */
  positionBias?: Float32Array;
}

/** Feature map φ of the paper's linear attention: `elu1` = elu(x) + 1 (the paper's), `relu`, `identity`. */
export type FeatureMap = 'elu1' | 'relu' | 'identity';

/**
 * Linear attention with the paper's rule (Katharopoulos et al. 2020), per KV head:
 * S ← S + φ(k)vᵀ, z ← z + φ(k), out = φ(q)ᵀS / (φ(q)·z + eps).
 * q: [T, H, Dk], k: [T, Hkv, Dk], v: [T, Hkv, Dv], out: [T, H, Dv];
 * state: [Hkv, Dk·Dv + Dk] (per KV head S as Dk rows of Dv, then z), updated in place.
 */
export interface LinearAttentionShape {
  /** Tokens in this call (≥ 1). */
  T: number;
  /** Query heads; a multiple of Hkv (query head h reads KV head h / (H / Hkv)). */
  H: number;
  Hkv: number;
  /** Key (and query) head dimension. */
  Dk: number;
  /** Value head dimension. */
  Dv: number;
  /** Default true: out_t sees the incoming state and tokens ≤ t. false: every row sees all T tokens. */
  causal?: boolean;
  /** Default 'elu1'. */
  featureMap?: FeatureMap;
  /** Added to the denominator; default 1e-6. */
  eps?: number;
  /** Tokens per chunk of the masked quadratic form (prefill); 1 = the plain recurrence. Default 32. */
  chunk?: number;
}

/**
 * The gated delta rule as llama.cpp's ggml_gated_delta_net defines it, per value head h with key
 * head h % Hk: S ← diag(exp(g))·S; d = β·(v − Sᵀk); S ← S + k dᵀ; out = scale·Sᵀq.
 * q, k: [T, Hk, Dk] (L2-normalized by the caller), v: [T, Hv, Dv], g: [T, Hv] (one decay per head)
 * or [T, Hv, Dk] (one per key channel), beta: [T, Hv], out: [T, Hv, Dv];
 * state: [Hv, Dv, Dk] (row j holds column j of S, llama.cpp's layout), updated in place.
 */
export interface GatedDeltaShape {
  T: number;
  /** Query/key heads; Hv must be a multiple of Hk. */
  Hk: number;
  /** Value heads (one state each). */
  Hv: number;
  Dk: number;
  Dv: number;
  /** Default 1/√Dk. */
  scale?: number;
  /** Tokens per chunk of the WY form (prefill); 1 = the plain recurrence. Default 64. */
  chunk?: number;
}

export type GeluApproximation = 'tanh' | 'erf';

/**
 * SIMD paths, lowest first; 'avx512vnni' adds vpdpbusd to the quantized dot products only,
 * 'avx512bf16' (above it) adds vdpbf16ps to the GEMM of bf16 weights only, and AVX-512 VBMI and
 * GFNI to the Q5_0 / Q5_1 / Q3_K / Q5_K / Q6_K GEMV on CPUs that have them (a cap of 'avx512vnni'
 * leaves them out).
 */
export type IsaName = 'scalar' | 'neon' | 'avx2' | 'avx512' | 'avx512vnni' | 'avx512bf16';

export interface BackendInfo {
  backend: 'native' | 'js';
  /** The SIMD path in use ('js' for the JS backend). */
  isa: IsaName | 'js';
  /** Best path this CPU supports. */
  detectedIsa: IsaName | 'js';
  threads: number;
  /** Why the native backend is not in use, when it is not. */
  fallbackReason?: string;
  /** Path of the loaded addon binary (native only). */
  addonPath?: string;
}

export interface Backend {
  readonly name: 'native' | 'js';
  info(): BackendInfo;
  /** Threads for the shared pool (native); n < 1 = physical cores. Returns the count in use. */
  setThreads(n: number): number;
  /**
   * `bytes` of zeroed memory for a large buffer kept for long (the KV cache). The native backend
   * maps it in 2 MiB pages where the OS allows (one page fault per 2 MiB as it fills instead of one
   * per 4 KiB, and fewer TLB misses); the JS backend returns a plain ArrayBuffer.
   */
  allocate(bytes: number): ArrayBuffer;

  // ── matmul ──────────────────────────────────────────────────────────────────────────────
  /** out[M, N] = a[M, K] · wᵀ where w is [N, K] (N = w.rows, K = w.cols). */
  matmulT(out: Float32Array, a: Float32Array, w: Weights, M: number): void;
  /**
   * Several matmulT on the same input (Q/K/V, gate/up): outs[i][M, ws[i].rows] = a · ws[i]ᵀ. The
   * native backend quantizes a once per activation type and runs every projection in one job.
   */
  matmulTMany(outs: readonly Float32Array[], a: Float32Array, ws: readonly Weights[], M: number): void;
  /** out[M, N] = a[M, K] · b[K, N], all f32. */
  matmul(out: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number): void;

  // ── mixture of experts (native/kernels/moe.h) ──────────────────────────────────────────
  /**
   * Sparse MoE feed-forward with SwiGLU experts, as llama.cpp runs Mixtral / Qwen3-MoE / Qwen3.5-MoE /
   * Qwen3-Next: softmax over the router logits [T, E] (replaced by the probabilities), each row's
   * top-`used` experts (ties: the lower id), weights renormalized to sum 1, out[T, dim] = Σ weight ·
   * down_e(silu(gate_e x) ⊙ up_e x). The rows routed to an expert go through its projections as one
   * matmul each. The native backend and the JS one compute the same routing and scatter arithmetic.
   */
  moeFfn(out: Float32Array, x: Float32Array, logits: Float32Array, T: number, experts: StackedExperts, used: number): void;

  // ── attention ───────────────────────────────────────────────────────────────────────────
  /**
   * Fused scaled-dot-product attention with online softmax (the T×S score matrix is never
   * materialized). q, out: [T, H, D] f32. k, v: [S, Hkv, D], f32 (Float32Array) or f16
   * (Uint16Array); k and v must have the same dtype. See AttentionShape for masking and RoPE.
   */
  attention(out: Float32Array, q: Float32Array, k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, shape: AttentionShape): void;

  // ── linear attention (native/kernels/linear_attention.h) ───────────────────────────────
  /** The paper's linear attention; see LinearAttentionShape. The state is updated in place. */
  linearAttention(out: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, state: Float32Array, shape: LinearAttentionShape): void;
  /** The gated delta rule; see GatedDeltaShape. The state is updated in place. */
  gatedDeltaRule(
    out: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    g: Float32Array,
    beta: Float32Array,
    state: Float32Array,
    shape: GatedDeltaShape,
  ): void;

  /**
   * Depthwise causal conv1d over time with a rolling state (Gated DeltaNet's short conv):
   * x, out: [T, C]; weight: [C, K]; convState: [K-1, C] = the K-1 inputs before x, replaced by the
   * last K-1 inputs. out[t][c] = Σ_w in[t+w][c]·weight[c][w] with in = convState ++ x; silu applies
   * x·sigmoid(x) to out. out must not alias x.
   */
  conv1dCausal(out: Float32Array, x: Float32Array, convState: Float32Array, weight: Float32Array, T: number, C: number, K: number, silu: boolean): void;
  /** out[r] = x[r] / sqrt(Σ x[r]² + eps). out may alias x. */
  l2norm(out: Float32Array, x: Float32Array, rows: number, dim: number, eps: number): void;
  /** out[r] = x[r] / rms(x[r]) · weight · silu(z[r]) (gated RMSNorm). out may alias x. */
  rmsnormGated(out: Float32Array, x: Float32Array, z: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  /**
   * The delta rule's gates from their projections, [T, H]: g = softplus(alpha + dtBias)·a (a < 0:
   * the log-decay), beta = sigmoid(betaRaw). g may alias alpha, beta may alias betaRaw.
   */
  deltaGates(g: Float32Array, beta: Float32Array, alpha: Float32Array, betaRaw: Float32Array, dtBias: Float32Array, a: Float32Array, T: number, H: number): void;
  /** out = x · sigmoid(gate) (a gated attention output). out may alias x or gate. */
  sigmoidMul(out: Float32Array, x: Float32Array, gate: Float32Array): void;

  // ── elementwise and row ops ─────────────────────────────────────────────────────────────
  /** In place: x is [T, nHeads, D]; row t is rotated at position posOffset + t. */
  rope(x: Float32Array, T: number, nHeads: number, D: number, posOffset: number, rope: RopeOptions): void;
  /**
   * Scaled RoPE's cos/sin for positions pos0 … pos0+npos-1 into table[(p·dims/2 + i)·2 + {0: cos,
   * 1: sin}] (table: npos · dims floats), as ggml computes them (the C library's cosf/sinf natively).
   */
  ropeScaledTable(table: Float32Array, pos0: number, npos: number, p: ScaledRopeTableParams): void;
  /** out[r] = x[r] / rms(x[r]) * weight, rows of length dim. out may alias x. */
  rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void;
  /** out[r] = (x[r] - mean) / sqrt(var + eps) * weight + bias (bias may be null). out may alias x. */
  layernorm(out: Float32Array, x: Float32Array, weight: Float32Array, bias: Float32Array | null, rows: number, dim: number, eps: number): void;
  /** Row-wise softmax(x / temperature). out may alias x. */
  softmax(out: Float32Array, x: Float32Array, rows: number, cols: number, temperature?: number): void;
  /** out may alias x. */
  gelu(out: Float32Array, x: Float32Array, approximation?: GeluApproximation): void;
  /** x * sigmoid(x). out may alias x. */
  silu(out: Float32Array, x: Float32Array): void;
  /** x > 0 ? x : 0 (ggml's ReLU: NaN and −0 give +0). out may alias x. */
  relu(out: Float32Array, x: Float32Array): void;
  /** silu(gate) * up. out may alias gate or up. */
  swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void;
  /** out = a + b (same length). out may alias a or b. */
  add(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** out = a * b (same length). out may alias a or b. */
  mul(out: Float32Array, a: Float32Array, b: Float32Array): void;
  /** out[i, :] = table row ids[i], converted to f32. out: [ids.length, table.cols]. */
  embedding(out: Float32Array, table: Weights, ids: Int32Array | Uint32Array): void;
  /** Index of the largest element (first one on ties). */
  argmax(x: Float32Array): number;

  // ── sampling (one row of logits per call; the Sampler's hot loops) ──────────────────────
  /**
   * prob[i] = exp((logits[i] − max)·invTemperature), evaluated in double and stored as f32;
   * returns the double sum of the weights, or NaN (prob unspecified) when a logit is NaN or the
   * maximum is not finite. prob.length === logits.length ≥ 1; invTemperature finite and > 0.
   */
  sampleWeights(prob: Float32Array, logits: Float32Array, invTemperature: number): number;
  /**
   * The first j < n with r − prob[0] − … − prob[j] < 0, subtracted one by one in double; n − 1
   * when rounding leaves r ≥ 0. 1 ≤ n ≤ prob.length, r finite and ≥ 0.
   */
  sampleDraw(prob: Float32Array, n: number, r: number): number;

  // ── conversions ─────────────────────────────────────────────────────────────────────────
  f32ToF16(out: Uint16Array, x: Float32Array): void;
  f16ToF32(out: Float32Array, x: Uint16Array): void;
  f32ToBf16(out: Uint16Array, x: Float32Array): void;
  bf16ToF32(out: Float32Array, x: Uint16Array): void;
  /** x.length must be a multiple of 32; out: x.length/32 * 34 bytes. Same rounding as ggml. */
  quantizeQ8_0(out: Uint8Array, x: Float32Array): void;
  dequantizeQ8_0(out: Float32Array, x: Uint8Array): void;
}

/** The ops each kernel family provides, so the families can live in separate files. */
export type MatmulOps = Pick<Backend, 'matmulT' | 'matmulTMany' | 'matmul'>;
export type MoEOps = Pick<Backend, 'moeFfn'>;
export type AttentionOps = Pick<Backend, 'attention' | 'rope'>;
export type ScaledRopeOps = Pick<Backend, 'ropeScaledTable'>;
export type LinearAttentionOps = Pick<
  Backend,
  'linearAttention' | 'gatedDeltaRule' | 'conv1dCausal' | 'l2norm' | 'rmsnormGated' | 'deltaGates' | 'sigmoidMul'
>;
export type ElementwiseOps = Pick<
  Backend,
  'rmsnorm' | 'layernorm' | 'softmax' | 'gelu' | 'silu' | 'relu' | 'swiglu' | 'add' | 'mul' | 'embedding' | 'argmax'
>;
export type SamplingOps = Pick<Backend, 'sampleWeights' | 'sampleDraw'>;
export type ConversionOps = Pick<Backend, 'f32ToF16' | 'f16ToF32' | 'f32ToBf16' | 'bf16ToF32' | 'quantizeQ8_0' | 'dequantizeQ8_0'>;
