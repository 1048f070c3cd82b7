/**
 * The token-mixing half of a block, whatever it is: softmax attention over a KV cache (`Attention`),
 * Qwen3.5's gated attention (`GatedAttention`), or a recurrent layer over a per-sequence state
 * (`RecurrentMixer` around `GatedDeltaNet` / `LinearAttention`). A Block calls `forward` with the
 * step's rows; hybrid models mix kinds layer by layer.
 */
import type { Backend, RopeOptions } from '../backend/types.js';
import { Attention } from './attention.js';
import type { GatedDeltaNet } from './gated-delta-net.js';
import type { KVCache } from './kv-cache.js';
import type { LinearAttention } from './linear-attention.js';
import { SharedProjections, type Linear } from './linear.js';
import type { RecurrentLayerSpec, RecurrentState } from './recurrent-state.js';
import type { Step } from './step.js';
import type { Workspace } from './workspace.js';

/** The feed-forward half of a block: MLP, MoE, or a wrapper around one. */
export interface FeedForward {
  /** out[T, dim] = ffn(x[T, dim]). */
  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void;
}

/**
 * Qwen3.5-MoE / Qwen3-Next: the routed experts plus a shared SwiGLU expert whose output is scaled
 * per token by sigmoid(x · gate) (GGUF ffn_gate_inp_shexp, one weight per model dimension).
 */
export class SharedExpertFFN implements FeedForward {
  constructor(
    private readonly backend: Backend,
    private readonly routed: FeedForward,
    private readonly shared: FeedForward,
    /** [1, dim]: the shared expert's gate. */
    private readonly gate: Linear,
    private readonly dim: number,
  ) {
    if (gate.outFeatures !== 1 || gate.inFeatures !== dim) throw new RangeError(`tensorloom: shared expert gate is [${gate.outFeatures}, ${gate.inFeatures}], expected [1, ${dim}]`);
  }

  forward(out: Float32Array, x: Float32Array, T: number, ws: Workspace): void {
    const d = this.dim;
    this.routed.forward(out, x, T, ws);
    const sh = ws.rows('shexp.out', T, d);
    const g = ws.rows('shexp.gate', T, 1);
    this.shared.forward(sh, x, T, ws);
    this.gate.forward(g, x, T);
    for (let t = 0; t < T; t++) {
      const s = 1 / (1 + Math.exp(-g[t]!));
      for (let i = 0; i < d; i++) out[t * d + i]! += s * sh[t * d + i]!;
    }
  }
}

export interface TokenMixer {
  /** out[M, dim] for the step's rows x[M, dim] (layer `layer` of each sequence's cache/state). */
  forward(out: Float32Array, x: Float32Array, step: Step, layer: number, ws: Workspace): void;
  /** The per-sequence recurrent state this layer keeps (absent: none, it uses the KV cache). */
  readonly stateSpec?: RecurrentLayerSpec;
}

/** The recurrent state of a sequence's cache, checked to continue exactly at `pos`. */
export function recurrentStateAt(cache: KVCache, pos: number): RecurrentState {
  const st = cache.recurrent;
  if (!st) throw new Error('tensorloom: this KV cache has no recurrent state: it was not made by a model with recurrent layers (see createCache)');
  if (pos === 0 && st.length !== 0) st.reset(); // a new sequence in this cache
  if (pos !== st.length) {
    throw new RangeError(
      `tensorloom: a recurrent state holds ${st.length} tokens and cannot continue at position ${pos}: ` +
        'unlike a KV cache it cannot be cut back (restore a snapshot taken at that position instead)',
    );
  }
  return st;
}

/** Runs a one-sequence recurrent layer over every sequence of a step, each on its own state. */
export class RecurrentMixer implements TokenMixer {
  readonly stateSpec: RecurrentLayerSpec;
  constructor(
    readonly layer: GatedDeltaNet | LinearAttention,
    private readonly dim: number,
  ) {
    this.stateSpec = layer.stateSpec;
  }

  forward(out: Float32Array, x: Float32Array, step: Step, layer: number, ws: Workspace): void {
    const d = this.dim;
    for (const s of step.sequences) {
      const st = recurrentStateAt(s.cache, s.pos);
      const a = s.offset;
      const e = a + s.T;
      const single = step.sequences.length === 1 && s.T === step.M;
      this.layer.forward(single ? out : out.subarray(a * d, e * d), single ? x : x.subarray(a * d, e * d), s.T, s.pos, st, layer, ws);
    }
    if (step.M > step.N) out.copyWithin(step.N * d, 0, d); // the padding row copies row 0
  }
}

export interface GatedAttentionOptions {
  /** Queries, [H·D, dim] (the q rows of the file's joint q|gate projection). */
  q: Linear;
  /** Output gate, [H·D, dim] (its gate rows). */
  gate: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  /** RMSNorm weights over each head's D values of q and k, before RoPE. */
  qNorm: Float32Array;
  kNorm: Float32Array;
  eps: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rope: RopeOptions;
}

/**
 * Qwen3.5 / Qwen3-Next full attention: q and k RMS-normalized per head, (partial) RoPE, softmax
 * attention over the KV cache, the result scaled by sigmoid(gate) before the output projection.
 */
export class GatedAttention implements TokenMixer {
  private readonly inner: Attention;
  private readonly inputs: SharedProjections;
  constructor(
    private readonly backend: Backend,
    readonly o: GatedAttentionOptions,
  ) {
    const qDim = o.nHeads * o.headDim;
    if (o.gate.outFeatures !== qDim || o.gate.inFeatures !== o.q.inFeatures) {
      throw new RangeError(`tensorloom: GatedAttention gate projection is [${o.gate.outFeatures}, ${o.gate.inFeatures}], expected [${qDim}, ${o.q.inFeatures}]`);
    }
    for (const [name, w] of [['qNorm', o.qNorm], ['kNorm', o.kNorm]] as const) {
      if (w.length !== o.headDim) throw new RangeError(`tensorloom: GatedAttention ${name} has ${w.length} elements, expected ${o.headDim} (the head dimension)`);
    }
    this.inputs = new SharedProjections([o.q, o.gate, o.k, o.v]);
    this.inner = new Attention(backend, { q: o.q, k: o.k, v: o.v, o: o.o, nHeads: o.nHeads, nKvHeads: o.nKvHeads, headDim: o.headDim, rope: o.rope });
  }

  forward(out: Float32Array, x: Float32Array, step: Step, layer: number, ws: Workspace): void {
    const b = this.backend;
    const { nHeads: H, nKvHeads: Hkv, headDim: D, eps } = this.o;
    const M = step.M;
    const q = ws.rows('gattn.q', M, H * D);
    const g = ws.rows('gattn.gate', M, H * D);
    const k = ws.rows('gattn.k', M, Hkv * D);
    const v = ws.rows('gattn.v', M, Hkv * D);
    const att = ws.rows('gattn.out', M, H * D);
    this.inputs.forward([q, g, k, v], x, M); // one matmul call for the four projections of x
    b.rmsnorm(q, q, this.o.qNorm, M * H, D, eps);
    b.rmsnorm(k, k, this.o.kNorm, M * Hkv, D, eps);
    for (const s of step.sequences) {
      const a = s.offset;
      const e = a + s.T;
      const qd = H * D;
      const kd = Hkv * D;
      this.inner.attendCached(att.subarray(a * qd, e * qd), q.subarray(a * qd, e * qd), k.subarray(a * kd, e * kd), v.subarray(a * kd, e * kd), s.T, s.pos, s.cache, layer, ws);
    }
    if (M > step.N) att.copyWithin(step.N * H * D, 0, H * D);
    b.sigmoidMul(att, att, g);
    this.o.o.forward(out, att, M);
  }
}
