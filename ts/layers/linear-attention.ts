/**
 * Linear attention with the paper's rule (Katharopoulos et al. 2020, "Transformers are RNNs"):
 * softmax(QKᵀ)V replaced by φ(Q)(φ(K)ᵀV), so causal attention is a running state S = Σ φ(k)vᵀ,
 * z = Σ φ(k) per KV head, and a token costs the same at any position. The same interface as
 * `Attention` — Q/K/V/output projections, grouped heads — with a `RecurrentState` in place of the
 * KV cache. No positional encoding: the recurrence is ordered by itself.
 */
import type { Backend, FeatureMap, LinearAttentionShape } from '../backend/types.js';
import type { Linear } from './linear.js';
import type { RecurrentLayerSpec, RecurrentState } from './recurrent-state.js';
import type { Workspace } from './workspace.js';

export interface LinearAttentionOptions {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  /** Default 'elu1' (the paper's φ(x) = elu(x) + 1). */
  featureMap?: FeatureMap;
  /** Default true. false: every token of a call sees all of the call's tokens (an encoder). */
  causal?: boolean;
  /** Tokens per chunk of the kernel's quadratic form in prefill (default 32). */
  chunk?: number;
}

export class LinearAttention {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  readonly nHeads: number;
  readonly nKvHeads: number;
  readonly headDim: number;
  /** The state this layer keeps per sequence: S (headDim²) and z (headDim) per KV head. */
  readonly stateSpec: RecurrentLayerSpec;
  private readonly shape: LinearAttentionShape;

  constructor(
    private readonly backend: Backend,
    o: LinearAttentionOptions,
  ) {
    this.q = o.q;
    this.k = o.k;
    this.v = o.v;
    this.o = o.o;
    this.nHeads = o.nHeads;
    this.nKvHeads = o.nKvHeads;
    this.headDim = o.headDim;
    if (o.nHeads % o.nKvHeads !== 0) throw new RangeError(`tensorloom: LinearAttention heads (${o.nHeads}) must be a multiple of KV heads (${o.nKvHeads})`);
    const qDim = o.nHeads * o.headDim;
    const kvDim = o.nKvHeads * o.headDim;
    const dim = o.q.inFeatures;
    const expect = (name: string, l: Linear, out: number, inF: number): void => {
      if (l.outFeatures !== out || l.inFeatures !== inF) {
        throw new RangeError(`tensorloom: LinearAttention ${name} projection is [${l.outFeatures}, ${l.inFeatures}], expected [${out}, ${inF}]`);
      }
    };
    expect('q', o.q, qDim, dim);
    expect('k', o.k, kvDim, dim);
    expect('v', o.v, kvDim, dim);
    expect('output', o.o, dim, qDim);
    const featureMap = o.featureMap ?? 'elu1';
    const D = o.headDim;
    this.stateSpec = {
      size: o.nKvHeads * (D * D + D),
      owner: `LinearAttention(H=${o.nHeads}, Hkv=${o.nKvHeads}, D=${D}, ${featureMap})`,
    };
    this.shape = { T: 1, H: o.nHeads, Hkv: o.nKvHeads, Dk: D, Dv: D, causal: o.causal ?? true, featureMap, chunk: o.chunk ?? 32 };
  }

  /**
   * out[T, dim] for the T rows of x, the next T tokens of the sequence whose layer-`layer` state
   * `state` holds (updated in place). `pos` (the first row's position) only places the snapshot a
   * forward pass may ask for; the state already knows what came before.
   */
  forward(out: Float32Array, x: Float32Array, T: number, pos: number, state: RecurrentState, layer: number, ws: Workspace): void {
    const H = this.nHeads;
    const D = this.headDim;
    const kvDim = this.nKvHeads * D;
    const q = ws.rows('lin.q', T, H * D);
    const k = ws.rows('lin.k', T, kvDim);
    const v = ws.rows('lin.v', T, kvDim);
    const att = ws.rows('lin.out', T, H * D);
    this.q.forward(q, x, T);
    this.k.forward(k, x, T);
    this.v.forward(v, x, T);
    const st = state.layer(layer, this.stateSpec);
    const split = state.snapshotRow(pos, T); // keep the state after `split` rows (a prompt's last token but one)
    if (split > 0) {
      const qd = H * D;
      this.shape.T = split;
      this.backend.linearAttention(att.subarray(0, split * qd), q.subarray(0, split * qd), k.subarray(0, split * kvDim), v.subarray(0, split * kvDim), st, this.shape);
      state.keepLayerPart(layer, 0, st.length);
    }
    if (split < T) {
      const qd = H * D;
      this.shape.T = T - split;
      this.backend.linearAttention(att.subarray(split * qd, T * qd), q.subarray(split * qd, T * qd), k.subarray(split * kvDim, T * kvDim), v.subarray(split * kvDim, T * kvDim), st, this.shape);
    }
    this.o.forward(out, att, T);
  }
}
