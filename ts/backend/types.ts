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

/** Storage types of weights (and of the KV cache, for f32/f16). */
export type DType = 'f32' | 'f16' | 'bf16' | 'q8_0';

/** GGUF Q8_0: blocks of 32 weights, each block = f16 scale (2 bytes) + 32 × int8 → 34 bytes. */
export const Q8_0_BLOCK = 32;
export const Q8_0_BLOCK_BYTES = 34;

/**
 * A weight matrix as model files store it: row-major `[rows, cols]` (for a Linear layer,
 * `[out_features, in_features]`).
 * - f32: Float32Array of rows*cols
 * - f16 / bf16: Uint16Array of rows*cols (raw bits)
 * - q8_0: Uint8Array of rows * (cols/32) * 34 bytes; cols must be a multiple of 32
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

export interface RopeOptions {
  /** Base of the frequencies θ_i = theta^(-2i/dims). Llama: 10000. */
  theta: number;
  layout: RopeLayout;
  /** Rotate only the first `dims` dimensions of each head (partial rotary). Default: D. */
  dims?: number;
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
  /** Attention logit soft-capping (Gemma 2): each scaled score x becomes cap · tanh(x / cap). */
  softcap?: number;
}

export type GeluApproximation = 'tanh' | 'erf';

export type IsaName = 'scalar' | 'neon' | 'avx2' | 'avx512';

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

  // ── matmul ──────────────────────────────────────────────────────────────────────────────
  /** out[M, N] = a[M, K] · wᵀ where w is [N, K] (N = w.rows, K = w.cols). */
  matmulT(out: Float32Array, a: Float32Array, w: Weights, M: number): void;
  /** out[M, N] = a[M, K] · b[K, N], all f32. */
  matmul(out: Float32Array, a: Float32Array, b: Float32Array, M: number, K: number, N: number): void;

  // ── attention ───────────────────────────────────────────────────────────────────────────
  /**
   * Fused scaled-dot-product attention with online softmax (the T×S score matrix is never
   * materialized). q, out: [T, H, D] f32. k, v: [S, Hkv, D], f32 (Float32Array) or f16
   * (Uint16Array); k and v must have the same dtype. See AttentionShape for masking and RoPE.
   */
  attention(out: Float32Array, q: Float32Array, k: Float32Array | Uint16Array, v: Float32Array | Uint16Array, shape: AttentionShape): void;

  // ── elementwise and row ops ─────────────────────────────────────────────────────────────
  /** In place: x is [T, nHeads, D]; row t is rotated at position posOffset + t. */
  rope(x: Float32Array, T: number, nHeads: number, D: number, posOffset: number, rope: RopeOptions): void;
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
export type MatmulOps = Pick<Backend, 'matmulT' | 'matmul'>;
export type AttentionOps = Pick<Backend, 'attention' | 'rope'>;
export type ElementwiseOps = Pick<
  Backend,
  'rmsnorm' | 'layernorm' | 'softmax' | 'gelu' | 'silu' | 'swiglu' | 'add' | 'mul' | 'embedding' | 'argmax'
>;
export type ConversionOps = Pick<Backend, 'f32ToF16' | 'f16ToF32' | 'f32ToBf16' | 'bf16ToF32' | 'quantizeQ8_0' | 'dequantizeQ8_0'>;
