/**
 * Gated DeltaNet, the linear-attention layer of Qwen3.5 and Qwen3-Next, as llama.cpp computes it:
 *
 *   [q | k | v] = conv1d_causal(x·W_qkvᵀ) → SiLU     (depthwise, width K, rolling conv state)
 *   q, k ← L2-normalized per head;  z = x·W_gateᵀ;  β = sigmoid(x·W_βᵀ);  g = softplus(x·W_αᵀ + dt)·a
 *   o = gated delta rule(q, k, v, g, β) over the recurrent state (value head h reads key head h % Hk
 *       in Qwen3.5's tiled head order, key head ⌊h / (Hv/Hk)⌋ in Qwen3-Next's grouped order)
 *   out = (RMSNorm(o) per value head · w_norm · SiLU(z)) · W_outᵀ
 *
 * Its per-sequence memory is the conv state ((K−1) rows of the q|k|v channels) plus one Dv×Dk
 * matrix per value head, in a `RecurrentState`; constant in the sequence length.
 */
import type { Backend, GatedDeltaShape } from '../backend/types.js';
import { SharedProjections, type Linear } from './linear.js';
import type { RecurrentLayerSpec, RecurrentState } from './recurrent-state.js';
import type { Workspace } from './workspace.js';

export interface GatedDeltaNetOptions {
  /** Fused q|k|v projection, [2·Hk·Dk + Hv·Dv, dim] (GGUF attn_qkv). */
  qkv: Linear;
  /** Output gate z, [Hv·Dv, dim] (GGUF attn_gate). */
  gate: Linear;
  /** β projection, [Hv, dim] (GGUF ssm_beta). */
  beta: Linear;
  /** Decay projection α, [Hv, dim] (GGUF ssm_alpha). */
  alpha: Linear;
  /** Depthwise conv weights, [channels = 2·Hk·Dk + Hv·Dv, K] (GGUF ssm_conv1d). */
  conv: Float32Array;
  convKernel: number;
  /** Per value head: dt bias (GGUF ssm_dt.bias) and a = −exp(A_log) (GGUF ssm_a). */
  dtBias: Float32Array;
  a: Float32Array;
  /** Gated RMSNorm weight, [Dv] (GGUF ssm_norm). */
  norm: Float32Array;
  /** Output projection, [dim, Hv·Dv] (GGUF ssm_out). */
  out: Linear;
  nKHeads: number;
  nVHeads: number;
  headKDim: number;
  headVDim: number;
  /** RMS epsilon: of the gated norm and of the q/k L2 norms (llama.cpp uses the same). */
  eps: number;
  /** Tokens per chunk of the delta rule's WY form in prefill (default 64). */
  chunk?: number;
  /**
   * Which key head a value head reads when Hv > Hk: 'tiled' (Qwen3.5: h % Hk, the kernel's own
   * broadcast) or 'grouped' (Qwen3-Next: ⌊h / (Hv/Hk)⌋; llama.cpp repeats each key head Hv/Hk
   * times in a row, and so do we before the kernel). Default 'tiled'.
   */
  keyHeads?: 'tiled' | 'grouped';
}

export class GatedDeltaNet {
  readonly o: GatedDeltaNetOptions;
  readonly stateSpec: RecurrentLayerSpec;
  /** Channels of the conv (q, k and v together). */
  readonly convChannels: number;
  private readonly convSize: number;
  private readonly shape: GatedDeltaShape;
  /** Grouped key heads repeated to one per value head before the kernel (Qwen3-Next with Hv > Hk). */
  private readonly repeatKeys: boolean;
  /** qkv, gate, β, α: the projections of the layer input. */
  private readonly inputs: SharedProjections;

  constructor(
    private readonly backend: Backend,
    o: GatedDeltaNetOptions,
  ) {
    this.o = o;
    const { nKHeads: Hk, nVHeads: Hv, headKDim: Dk, headVDim: Dv, convKernel: K } = o;
    if (Hv % Hk !== 0) throw new RangeError(`tensorloom: GatedDeltaNet value heads (${Hv}) must be a multiple of key heads (${Hk})`);
    if (!Number.isInteger(K) || K < 1) throw new RangeError(`tensorloom: GatedDeltaNet convKernel must be an integer ≥ 1, got ${K}`);
    const C = 2 * Hk * Dk + Hv * Dv;
    const dim = o.qkv.inFeatures;
    const expect = (name: string, l: Linear, out: number, inF: number): void => {
      if (l.outFeatures !== out || l.inFeatures !== inF) {
        throw new RangeError(`tensorloom: GatedDeltaNet ${name} projection is [${l.outFeatures}, ${l.inFeatures}], expected [${out}, ${inF}]`);
      }
    };
    expect('qkv', o.qkv, C, dim);
    expect('gate', o.gate, Hv * Dv, dim);
    expect('beta', o.beta, Hv, dim);
    expect('alpha', o.alpha, Hv, dim);
    expect('output', o.out, dim, Hv * Dv);
    const vec = (name: string, a: Float32Array, n: number, what: string) => {
      if (!(a instanceof Float32Array) || a.length !== n) {
        throw new RangeError(`tensorloom: GatedDeltaNet ${name} must be a Float32Array of ${n} (${what}), got ${a instanceof Float32Array ? a.length : typeof a}`);
      }
    };
    vec('conv', o.conv, C * K, `channels ${C} × kernel ${K}`);
    vec('dtBias', o.dtBias, Hv, 'one per value head');
    vec('a', o.a, Hv, 'one per value head');
    vec('norm', o.norm, Dv, 'the value head dimension');
    this.convChannels = C;
    this.convSize = (K - 1) * C;
    this.stateSpec = {
      size: this.convSize + Hv * Dv * Dk,
      owner: `GatedDeltaNet(Hk=${Hk}, Hv=${Hv}, Dk=${Dk}, Dv=${Dv}, conv ${K}×${C})`,
    };
    if (o.keyHeads !== undefined && o.keyHeads !== 'tiled' && o.keyHeads !== 'grouped') throw new RangeError(`tensorloom: GatedDeltaNet keyHeads must be 'tiled' or 'grouped', got '${String(o.keyHeads)}'`);
    this.repeatKeys = o.keyHeads === 'grouped' && Hv !== Hk;
    this.inputs = new SharedProjections([o.qkv, o.gate, o.beta, o.alpha]);
    this.shape = { T: 1, Hk: this.repeatKeys ? Hv : Hk, Hv, Dk, Dv, chunk: o.chunk ?? 64 };
  }

  /** out[T, dim] for the next T tokens x[T, dim]; the layer-`layer` part of `state` is updated in place. */
  forward(out: Float32Array, x: Float32Array, T: number, pos: number, state: RecurrentState, layer: number, ws: Workspace): void {
    const b = this.backend;
    const { nKHeads: Hk, nVHeads: Hv, headKDim: Dk, headVDim: Dv, convKernel: K, eps } = this.o;
    const C = this.convChannels;
    const st = state.layer(layer, this.stateSpec);
    const convState = st.subarray(0, this.convSize);
    const deltaState = st.subarray(this.convSize);

    const mixed = ws.rows('gdn.mixed', T, C);
    const conv = ws.rows('gdn.conv', T, C);
    const z = ws.rows('gdn.z', T, Hv * Dv);
    const beta = ws.rows('gdn.beta', T, Hv);
    const g = ws.rows('gdn.g', T, Hv);
    const q = ws.rows('gdn.q', T, Hk * Dk);
    const k = ws.rows('gdn.k', T, Hk * Dk);
    const v = ws.rows('gdn.v', T, Hv * Dv);
    const o = ws.rows('gdn.o', T, Hv * Dv);
    // the four input projections read x: one matmul call (x quantized once, one thread-pool job)
    this.inputs.forward([mixed, z, beta, g], x, T);
    // A forward pass may want the state after `split` rows (a prompt's last token but one) kept:
    // conv and delta rule then run in two parts, each part of the state copied out in between.
    const split = state.snapshotRow(pos, T);
    if (split > 0 && split < T) {
      b.conv1dCausal(conv.subarray(0, split * C), mixed.subarray(0, split * C), convState, this.o.conv, split, C, K, true);
      state.keepLayerPart(layer, 0, this.convSize);
      b.conv1dCausal(conv.subarray(split * C, T * C), mixed.subarray(split * C, T * C), convState, this.o.conv, T - split, C, K, true);
    } else {
      b.conv1dCausal(conv, mixed, convState, this.o.conv, T, C, K, true);
      if (split === T) state.keepLayerPart(layer, 0, this.convSize);
    }
    // Split the conv output rows [q | k | v] into the kernel's contiguous [T, heads, D] arrays.
    const qk = Hk * Dk;
    for (let t = 0; t < T; t++) {
      const row = t * C;
      q.set(conv.subarray(row, row + qk), t * qk);
      k.set(conv.subarray(row + qk, row + 2 * qk), t * qk);
      v.set(conv.subarray(row + 2 * qk, row + C), t * Hv * Dv);
    }
    b.l2norm(q, q, T * Hk, Dk, eps);
    b.l2norm(k, k, T * Hk, Dk, eps);
    b.deltaGates(g, beta, g, beta, this.o.dtBias, this.o.a, T, Hv);
    let qh = q;
    let kh = k;
    if (this.repeatKeys) {
      // value head h reads key head ⌊h / r⌋: repeat each key head r times in a row
      const r = Hv / Hk;
      const qr = ws.rows('gdn.q.rep', T, Hv * Dk);
      const kr = ws.rows('gdn.k.rep', T, Hv * Dk);
      for (let t = 0; t < T; t++) {
        for (let h = 0; h < Hv; h++) {
          const src = (t * Hk + Math.floor(h / r)) * Dk;
          const dst = (t * Hv + h) * Dk;
          qr.set(q.subarray(src, src + Dk), dst);
          kr.set(k.subarray(src, src + Dk), dst);
        }
      }
      qh = qr;
      kh = kr;
    }
    const HkK = this.shape.Hk * Dk;
    const rule = (r0: number, r1: number): void => {
      this.shape.T = r1 - r0;
      const rows = (a: Float32Array, w: number) => (r0 === 0 && r1 === T ? a : a.subarray(r0 * w, r1 * w));
      b.gatedDeltaRule(rows(o, Hv * Dv), rows(qh, HkK), rows(kh, HkK), rows(v, Hv * Dv), rows(g, Hv), rows(beta, Hv), deltaState, this.shape);
    };
    if (split > 0 && split < T) {
      rule(0, split);
      state.keepLayerPart(layer, this.convSize, this.stateSpec.size);
      rule(split, T);
    } else {
      rule(0, T);
      if (split === T) state.keepLayerPart(layer, this.convSize, this.stateSpec.size);
    }
    b.rmsnormGated(o, o, z, this.o.norm, T * Hv, Dv, eps);
    this.o.out.forward(out, o, T);
  }
}
