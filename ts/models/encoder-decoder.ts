/**
 * The forward pass of encoder-decoder transformers (T5 family, ./t5.ts): the encoder runs once
 * over the whole source (bidirectional attention), its output's keys and values are projected
 * once per decoder layer and kept (`EncodedSource`), then the decoder runs token by token with a
 * self-attention KV cache (`DecoderState`) and cross-attention to those kept K/V.
 *
 * Built from the shared layer classes (Linear, RMSNorm, MLP, CrossAttention over the fused
 * attention kernel); T5's relative position bias is filled once per step from layer 0's table and
 * added to every layer's self-attention scores (the fused attention kernel's `positionBias` input).
 */
import type { AttentionShape, Backend } from '../backend/types.js';
import { CrossAttention, type CrossKV } from '../layers/cross-attention.js';
import { Embedding } from '../layers/embedding.js';
import { Linear, SharedProjections } from '../layers/linear.js';
import { MLP } from '../layers/mlp.js';
import { RelativePositionBias } from '../layers/relative-position-bias.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import { Workspace } from '../layers/workspace.js';
import type { Pooling, Seq2SeqSpec, TransformerConfig } from './config.js';
import type { T5AttentionWeights, T5FeedForwardWeights, T5Weights } from './t5.js';
import { poolText, type TokenEncoder } from './token-encoder.js';
import type { LinearWeights, NormWeights } from './weights.js';

interface SelfAttention {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  /** q, k and v of the same input as one backend call (the encoder's, over the whole source). */
  qkv: SharedProjections;
}

interface EncoderLayer {
  attnNorm: RMSNorm;
  attn: SelfAttention;
  ffnNorm: RMSNorm;
  ffn: MLP;
}

interface DecoderLayer extends EncoderLayer {
  crossNorm: RMSNorm;
  cross: CrossAttention;
}

/** A source sentence run through the encoder: its hidden states and every decoder layer's cross K/V. */
export interface EncodedSource {
  /** Source tokens N. */
  readonly length: number;
  /** Encoder output after the final norm, [N, dim]. */
  readonly hidden: Float32Array;
  /** One per decoder layer. */
  readonly cross: readonly CrossKV[];
}

/** One generation's decoder: its self-attention KV cache and position, and the source it attends to. */
export interface DecoderState {
  readonly source: EncodedSource;
  /** Decoder tokens already in the cache. */
  pos: number;
  readonly k: Float32Array[];
  readonly v: Float32Array[];
}

export interface EncoderDecoderOptions {
  /** Most decoder positions one generation may hold (its KV cache size). Default: the context length. */
  maxTarget?: number;
  /**
   * The pooling of its embeddings when embed() is given none (`TokenEncoder`): the file's, else the
   * sentence-T5 convention, mean (the default; llama.cpp writes no pooling key for t5encoder).
   */
  pooling?: Pooling;
}

export class EncoderDecoder implements TokenEncoder {
  readonly config: TransformerConfig;
  readonly spec: Seq2SeqSpec;
  /** Longest source the encoder takes (the context length). */
  readonly maxSource: number;
  readonly maxTarget: number;
  private readonly embedding: Embedding;
  private readonly encoderLayers: EncoderLayer[];
  private readonly encoderNorm: RMSNorm;
  private readonly encoderBias: RelativePositionBias;
  private readonly decoderLayers: DecoderLayer[];
  private readonly decoderNorm: RMSNorm | null;
  private readonly decoderBias: RelativePositionBias | null;
  /**
   * Every decoder layer's cross-attention k and v projections, [k0, v0, k1, v1, …], in groups of at
   * most 16 run as one backend call each (encode: the same encoder output goes into all of them;
   * the native backend then packs it once and spreads all their columns over the threads).
   */
  private readonly crossKV: SharedProjections[];
  private readonly lmHead: Linear | null;
  private readonly headScale: number;
  private readonly ws: Workspace;
  private readonly shape: AttentionShape;
  private readonly logits: Float32Array;
  readonly defaultPooling: Pooling;

  constructor(
    readonly backend: Backend,
    config: TransformerConfig,
    weights: T5Weights,
    options: EncoderDecoderOptions = {},
  ) {
    if (!config.seq2seq) throw new Error(`tensorloom: ${config.architecture} is not an encoder-decoder model`);
    this.config = config;
    const s = (this.spec = config.seq2seq);
    const c = config;
    this.maxSource = c.contextLength;
    this.maxTarget = options.maxTarget ?? c.contextLength;
    this.defaultPooling = options.pooling ?? 'mean';
    if (!Number.isInteger(this.maxTarget) || this.maxTarget < 1) throw new RangeError(`tensorloom: maxTarget must be an integer ≥ 1, got ${this.maxTarget}`);
    this.ws = new Workspace(Math.max(this.maxSource, 1));
    const inner = c.nHeads * c.headDim;
    const kvInner = c.nKvHeads * c.headDim;
    const norm = (w: NormWeights, what: string): RMSNorm => {
      if (w.weight.length !== c.dim) throw new RangeError(`tensorloom: ${what} has ${w.weight.length} elements, expected ${c.dim}`);
      return new RMSNorm(backend, w.weight, c.normEps);
    };
    const linear = (w: LinearWeights, what: string, rows: number, cols: number): Linear => {
      if (w.weight.rows !== rows || w.weight.cols !== cols) throw new RangeError(`tensorloom: ${what} is [${w.weight.rows}, ${w.weight.cols}], expected [${rows}, ${cols}]`);
      return new Linear(backend, w.weight, w.bias);
    };
    const attention = (w: T5AttentionWeights, what: string): SelfAttention => {
      const q = linear(w.q, `${what} q`, inner, c.dim);
      const k = linear(w.k, `${what} k`, kvInner, c.dim);
      const v = linear(w.v, `${what} v`, kvInner, c.dim);
      return { q, k, v, o: linear(w.o, `${what} o`, c.dim, inner), qkv: new SharedProjections([q, k, v]) };
    };
    const ffn = (w: T5FeedForwardWeights, what: string): MLP => {
      const up = linear(w.up, `${what} ffn up`, c.hiddenDim, c.dim);
      const down = linear(w.down, `${what} ffn down`, c.dim, c.hiddenDim);
      if (c.mlp === 'geglu') {
        if (!w.gate) throw new Error(`tensorloom: ${what} ffn gate is missing (gated-GELU needs it)`);
        return new MLP(backend, { kind: 'geglu', gate: linear(w.gate, `${what} ffn gate`, c.hiddenDim, c.dim), up, down });
      }
      return new MLP(backend, { kind: 'relu', up, down });
    };
    const table = (t: Float32Array, what: string): Float32Array => {
      if (t.length !== s.buckets * c.nHeads) throw new RangeError(`tensorloom: ${what} relative position bias has ${t.length} elements, expected ${s.buckets} buckets × ${c.nHeads} heads`);
      return t;
    };
    const emb = weights.tokenEmbedding;
    if (emb.rows !== c.vocabSize || emb.cols !== c.dim) throw new RangeError(`tensorloom: token embedding is [${emb.rows}, ${emb.cols}], expected [${c.vocabSize}, ${c.dim}]`);
    this.embedding = new Embedding(backend, emb);
    if (weights.encoderLayers.length !== c.nLayers) throw new RangeError(`tensorloom: found ${weights.encoderLayers.length} encoder layers, config says ${c.nLayers}`);
    this.encoderLayers = weights.encoderLayers.map((l, i) => ({
      attnNorm: norm(l.attnNorm, `encoder layer ${i} attention norm`),
      attn: attention(l.attn, `encoder layer ${i} attention`),
      ffnNorm: norm(l.ffnNorm, `encoder layer ${i} ffn norm`),
      ffn: ffn(l.ffn, `encoder layer ${i}`),
    }));
    this.encoderNorm = norm(weights.encoderNorm, 'encoder final norm');
    this.encoderBias = new RelativePositionBias(table(weights.encoderBias, 'encoder'), c.nHeads, true, s.maxDistance);
    const d = weights.decoder;
    const crossKV: Linear[] = [];
    if (d) {
      if (d.layers.length !== s.decoderLayers) throw new RangeError(`tensorloom: found ${d.layers.length} decoder layers, config says ${s.decoderLayers}`);
      this.decoderLayers = d.layers.map((l, i) => {
        const x = attention(l.cross, `decoder layer ${i} cross-attention`);
        crossKV.push(x.k, x.v);
        return {
          attnNorm: norm(l.attnNorm, `decoder layer ${i} attention norm`),
          attn: attention(l.attn, `decoder layer ${i} attention`),
          crossNorm: norm(l.crossNorm, `decoder layer ${i} cross-attention norm`),
          cross: new CrossAttention(backend, { ...x, heads: c.nHeads, kvHeads: c.nKvHeads, headDim: c.headDim, scale: 1 }),
          ffnNorm: norm(l.ffnNorm, `decoder layer ${i} ffn norm`),
          ffn: ffn(l.ffn, `decoder layer ${i}`),
        };
      });
      this.decoderNorm = norm(d.norm, 'decoder final norm');
      this.decoderBias = new RelativePositionBias(table(d.bias, 'decoder'), c.nHeads, false, s.maxDistance);
      if (d.lmHead.rows !== c.vocabSize || d.lmHead.cols !== c.dim) throw new RangeError(`tensorloom: LM head is [${d.lmHead.rows}, ${d.lmHead.cols}], expected [${c.vocabSize}, ${c.dim}]`);
      this.lmHead = new Linear(backend, d.lmHead);
    } else {
      this.decoderLayers = [];
      this.decoderNorm = null;
      this.decoderBias = null;
      this.lmHead = null;
    }
    this.crossKV = [];
    for (let i = 0; i < crossKV.length; i += 16) this.crossKV.push(new SharedProjections(crossKV.slice(i, i + 16)));
    this.headScale = s.tiedHead ? 1 / Math.sqrt(c.dim) : 1;
    this.shape = { T: 1, S: 1, H: c.nHeads, Hkv: c.nKvHeads, D: c.headDim, posOffset: 0, causal: false, scale: 1 };
    this.logits = new Float32Array(c.vocabSize);
  }

  /** Whether the file has a decoder (t5encoder files do not). */
  get hasDecoder(): boolean {
    return this.lmHead !== null;
  }

  /** The encoder's output for a source of N token ids, [N, dim] (a fresh array). */
  encodeHidden(ids: Int32Array): Float32Array {
    const c = this.config;
    const N = ids.length;
    if (N < 1) throw new RangeError('tensorloom: the source is empty: an encoder-decoder needs at least one source token');
    if (N > this.maxSource) throw new RangeError(`tensorloom: the source has ${N} tokens, more than the encoder's context of ${this.maxSource}`);
    const ws = this.ws;
    const x = ws.rows('ed.x', N, c.dim);
    this.embedding.forward(x, ids);
    const bias = this.encoderBias.fill(N, N, 0);
    this.shape.T = N;
    this.shape.S = N;
    this.shape.posOffset = 0;
    this.shape.causal = false;
    for (const l of this.encoderLayers) {
      this.selfAttention(l, x, N, l.attn.k, l.attn.v, null, bias);
      this.feedForward(l, x, N);
    }
    const out = new Float32Array(N * c.dim);
    this.encoderNorm.forward(out, x, N);
    return out;
  }

  /** Most tokens of one `hidden` call (TokenEncoder): the encoder's context. */
  get maxRows(): number {
    return this.maxSource;
  }

  /**
   * The encoder's output for texts packed back to back (TokenEncoder, for embeddings): each text
   * runs through the encoder on its own (T5's position bias is per sequence), into one [N, dim].
   */
  hidden(tokens: Int32Array, bounds: Int32Array): Float32Array {
    const dim = this.config.dim;
    const out = new Float32Array(tokens.length * dim);
    for (let i = 0; i + 1 < bounds.length; i++) out.set(this.encodeHidden(tokens.subarray(bounds[i]!, bounds[i + 1]!)), bounds[i]! * dim);
    return out;
  }

  /** One vector per text of `hidden`'s output (mean, cls, last or none; T5 has no classification head for rank). */
  pool(hidden: Float32Array, bounds: Int32Array, pooling: Pooling): Float32Array[] {
    if (pooling === 'rank') throw new Error(`tensorloom: ${this.config.architecture} has no classification head: it cannot rank`);
    const out: Float32Array[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) out.push(poolText(hidden, bounds[i]!, bounds[i + 1]!, this.config.dim, pooling));
    return out;
  }

  /** Runs the encoder once and projects its output to every decoder layer's cross-attention K/V. */
  encode(ids: Int32Array): EncodedSource {
    if (!this.hasDecoder) throw new Error(`tensorloom: ${this.config.architecture} has no decoder (an encoder-only T5): use its encoder output for embeddings`);
    const N = ids.length;
    const hidden = this.encodeHidden(ids);
    const width = this.config.nKvHeads * this.config.headDim;
    const cross: CrossKV[] = this.decoderLayers.map(() => ({ k: new Float32Array(N * width), v: new Float32Array(N * width), length: N }));
    const outs = cross.flatMap((kv) => [kv.k, kv.v]);
    this.crossKV.forEach((p, g) => p.forward(outs.slice(g * 16, g * 16 + 16), hidden, N));
    return { length: N, hidden, cross };
  }

  /** A fresh decoder (empty KV cache) attending to `source`. */
  start(source: EncodedSource): DecoderState {
    const kv = this.config.nKvHeads * this.config.headDim;
    const n = this.decoderLayers.length;
    return {
      source,
      pos: 0,
      k: Array.from({ length: n }, () => new Float32Array(this.maxTarget * kv)),
      v: Array.from({ length: n }, () => new Float32Array(this.maxTarget * kv)),
    };
  }

  /** A copy of a decoder state (same source, its own cache): for beam search's forks. */
  fork(state: DecoderState): DecoderState {
    return { source: state.source, pos: state.pos, k: state.k.map((a) => a.slice()), v: state.v.map((a) => a.slice()) };
  }

  /**
   * Feeds T decoder tokens (the start token first) and returns the logits after the last one,
   * [vocab] (a view reused by the next call). The tokens join the state's KV cache.
   */
  decode(state: DecoderState, ids: Int32Array): Float32Array {
    const c = this.config;
    const T = ids.length;
    if (!this.hasDecoder) throw new Error(`tensorloom: ${c.architecture} has no decoder`);
    if (T < 1) throw new RangeError('tensorloom: decode needs at least one token');
    if (state.pos + T > this.maxTarget) throw new RangeError(`tensorloom: the decoder's context is full (${this.maxTarget} positions)`);
    const ws = this.ws;
    const x = ws.rows('ed.x', T, c.dim);
    this.embedding.forward(x, ids);
    const S = state.pos + T;
    const bias = this.decoderBias!.fill(T, S, state.pos);
    const h = ws.rows('ed.h', T, c.dim);
    const y = ws.rows('ed.y', T, c.dim);
    for (const [i, l] of this.decoderLayers.entries()) {
      this.shape.T = T;
      this.shape.S = S;
      this.shape.posOffset = state.pos;
      this.shape.causal = true;
      this.selfAttention(l, x, T, l.attn.k, l.attn.v, { k: state.k[i]!, v: state.v[i]!, pos: state.pos }, bias);
      l.crossNorm.forward(h, x, T);
      l.cross.forward(y, h, T, state.source.cross[i]!, ws);
      this.backend.add(x, x, y);
      this.feedForward(l, x, T);
    }
    state.pos = S;
    const last = x.subarray((T - 1) * c.dim, T * c.dim);
    const out = ws.rows('ed.last', 1, c.dim);
    this.decoderNorm!.forward(out, last, 1);
    if (this.headScale !== 1) for (let d = 0; d < c.dim; d++) out[d]! *= this.headScale;
    this.lmHead!.forward(this.logits, out, 1);
    return this.logits;
  }

  /**
   * One decoder step for R generations at once (one token each, `ids[r]` for `states[r]`): the
   * token-parallel work (embedding, norms, projections, feed-forward, LM head) runs over the R rows
   * as one matrix; self- and cross-attention run per row against that row's own cache and source.
   * Writes the [R, vocab] logits into `out`; every state advances one position. (Serving's batch
   * engine, ts/server/seq2seq-serve-engine.ts, drives it.)
   */
  decodeRows(states: readonly DecoderState[], ids: Int32Array, out: Float32Array): void {
    const c = this.config;
    const R = states.length;
    if (!this.hasDecoder) throw new Error(`tensorloom: ${c.architecture} has no decoder`);
    if (ids.length !== R) throw new RangeError(`tensorloom: decodeRows got ${ids.length} tokens for ${R} states`);
    if (R < 1 || R > this.ws.maxRows) throw new RangeError(`tensorloom: decodeRows takes 1 to ${this.ws.maxRows} rows, got ${R}`);
    if (out.length < R * c.vocabSize) throw new RangeError(`tensorloom: decodeRows needs ${R} × ${c.vocabSize} logits, got ${out.length}`);
    for (const st of states) if (st.pos + 1 > this.maxTarget) throw new RangeError(`tensorloom: the decoder's context is full (${this.maxTarget} positions)`);
    const ws = this.ws;
    const inner = c.nHeads * c.headDim;
    const kvInner = c.nKvHeads * c.headDim;
    const x = ws.rows('ed.x', R, c.dim);
    const h = ws.rows('ed.h', R, c.dim);
    const y = ws.rows('ed.y', R, c.dim);
    const q = ws.rows('ed.q', R, inner);
    const att = ws.rows('ed.att', R, inner);
    const kNew = ws.rows('ed.k', R, kvInner);
    const vNew = ws.rows('ed.v', R, kvInner);
    const sources = states.map((st) => st.source);
    this.embedding.forward(x, ids);
    for (const [i, l] of this.decoderLayers.entries()) {
      l.attnNorm.forward(h, x, R);
      l.attn.q.forward(q, h, R);
      l.attn.k.forward(kNew, h, R);
      l.attn.v.forward(vNew, h, R);
      for (let r = 0; r < R; r++) {
        const st = states[r]!;
        const S = st.pos + 1;
        st.k[i]!.set(kNew.subarray(r * kvInner, (r + 1) * kvInner), st.pos * kvInner);
        st.v[i]!.set(vNew.subarray(r * kvInner, (r + 1) * kvInner), st.pos * kvInner);
        const bias = this.decoderBias!.fill(1, S, st.pos);
        this.backend.attention(att.subarray(r * inner, (r + 1) * inner), q.subarray(r * inner, (r + 1) * inner), st.k[i]!.subarray(0, S * kvInner), st.v[i]!.subarray(0, S * kvInner), {
          ...this.shape,
          T: 1,
          S,
          posOffset: st.pos,
          causal: true,
          positionBias: bias,
        });
      }
      l.attn.o.forward(y, att, R);
      this.backend.add(x, x, y);
      l.crossNorm.forward(h, x, R);
      l.cross.forwardRows(y, h, sources.map((src) => src.cross[i]!), ws);
      this.backend.add(x, x, y);
      this.feedForward(l, x, R);
    }
    for (const st of states) st.pos++;
    this.decoderNorm!.forward(h, x, R);
    if (this.headScale !== 1) for (let k = 0; k < R * c.dim; k++) h[k]! *= this.headScale;
    this.lmHead!.forward(out.subarray(0, R * c.vocabSize), h, R);
  }

  /** x += o(attention(norm(x))) with the position bias; `cache` (decoder) receives the new K/V rows. */
  private selfAttention(l: EncoderLayer, x: Float32Array, T: number, kProj: Linear, vProj: Linear, cache: { k: Float32Array; v: Float32Array; pos: number } | null, bias: Float32Array): void {
    const c = this.config;
    const ws = this.ws;
    const inner = c.nHeads * c.headDim;
    const kvInner = c.nKvHeads * c.headDim;
    const h = ws.rows('ed.h', T, c.dim);
    const q = ws.rows('ed.q', T, inner);
    const att = ws.rows('ed.att', T, inner);
    const y = ws.rows('ed.y', T, c.dim);
    l.attnNorm.forward(h, x, T);
    let k: Float32Array;
    let v: Float32Array;
    if (cache) {
      l.attn.q.forward(q, h, T);
      const at = cache.pos * kvInner;
      kProj.forward(cache.k.subarray(at, at + T * kvInner), h, T);
      vProj.forward(cache.v.subarray(at, at + T * kvInner), h, T);
      k = cache.k.subarray(0, (cache.pos + T) * kvInner);
      v = cache.v.subarray(0, (cache.pos + T) * kvInner);
    } else {
      k = ws.rows('ed.k', T, kvInner);
      v = ws.rows('ed.v', T, kvInner);
      if (kProj === l.attn.k && vProj === l.attn.v) {
        l.attn.qkv.forward([q, k, v], h, T);
      } else {
        l.attn.q.forward(q, h, T);
        kProj.forward(k, h, T);
        vProj.forward(v, h, T);
      }
    }
    this.backend.attention(att, q, k, v, { ...this.shape, positionBias: bias });
    l.attn.o.forward(y, att, T);
    this.backend.add(x, x, y);
  }

  /** x += ffn(norm(x)). */
  private feedForward(l: EncoderLayer, x: Float32Array, T: number): void {
    const h = this.ws.rows('ed.h', T, this.config.dim);
    const y = this.ws.rows('ed.y', T, this.config.dim);
    l.ffnNorm.forward(h, x, T);
    l.ffn.forward(y, h, T, this.ws);
    this.backend.add(x, x, y);
  }
}
