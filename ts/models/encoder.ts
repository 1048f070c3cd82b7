/**
 * The forward pass of embedding models (config.encoder set: BERT family; or a decoder whose file
 * declares a pooling, e.g. Qwen3-Embedding: causal, pre-norm, last-token pooling): a batch of texts of
 * different lengths runs as ONE packed step — the token-parallel ops (embeddings, projections,
 * norms, MLP) over all rows at once, attention through the fused kernel with the rows split into
 * sequences (AttentionShape.sequences: each text attends only to itself, no padding) — then each
 * text's rows are pooled (mean, first, last token, or the classification head for `rank`).
 *
 * Built from the same layer classes as the decoder (ts/layers) and the same config/weights the
 * architecture table reads; no KV cache (each call sees whole texts).
 */
import type { AttentionShape, Backend } from '../backend/types.js';
import { Embedding } from '../layers/embedding.js';
import { LayerNorm } from '../layers/layernorm.js';
import { Linear } from '../layers/linear.js';
import { MLP } from '../layers/mlp.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import type { Norm } from '../layers/block.js';
import { Workspace } from '../layers/workspace.js';
import { validateConfig, type EncoderSpec, type Pooling, type TransformerConfig } from './config.js';
import { poolText, type TokenEncoder } from './token-encoder.js';
import type { EncoderWeights, LinearWeights, NormWeights } from './weights.js';

interface EncoderLayer {
  /** Per-head RMSNorm of q and k before RoPE (Qwen3), or null. */
  qNorm: RMSNorm | null;
  kNorm: RMSNorm | null;
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  attnNorm: Norm;
  mlp: MLP;
  mlpNorm: Norm;
}

export interface EncoderOptions {
  /** Most token rows in one packed forward step (texts are grouped up to this). Default 2048. */
  maxRows?: number;
}

export class Encoder implements TokenEncoder {
  readonly config: TransformerConfig;
  readonly spec: EncoderSpec;
  readonly maxRows: number;
  private readonly embedding: Embedding;
  private readonly positions: Embedding | null;
  private readonly typeRow: Float32Array | null;
  private readonly embeddingNorm: Norm | null;
  private readonly layers: EncoderLayer[];
  private readonly finalNorm: Norm | null;
  private readonly classifierDense: Linear | null;
  private readonly classifierOut: Linear | null;
  private readonly ws: Workspace;
  private readonly shape: AttentionShape;

  constructor(
    readonly backend: Backend,
    config: TransformerConfig,
    weights: EncoderWeights,
    options: EncoderOptions = {},
  ) {
    validateConfig(config, config.architecture);
    if (!config.encoder) throw new Error(`tensorloom: ${config.architecture} is not an encoder model`);
    this.config = config;
    this.spec = config.encoder;
    const c = config;
    // a batch holds at least one whole text (up to 8192 tokens: long-context decoders are capped)
    this.maxRows = Math.max(Math.min(c.contextLength, 8192), options.maxRows ?? 2048);
    this.ws = new Workspace(this.maxRows);
    const norm = (w: NormWeights, what: string): Norm => {
      if (w.weight.length !== c.dim) throw new RangeError(`tensorloom: ${what} has ${w.weight.length} elements, expected ${c.dim}`);
      return c.norm === 'rmsnorm' ? new RMSNorm(backend, w.weight, c.normEps) : new LayerNorm(backend, w.weight, w.bias, c.normEps);
    };
    const linear = (w: LinearWeights, what: string, rows: number, cols: number): Linear => {
      if (w.weight.rows !== rows || w.weight.cols !== cols) throw new RangeError(`tensorloom: ${what} is [${w.weight.rows}, ${w.weight.cols}], expected [${rows}, ${cols}]`);
      return new Linear(backend, w.weight, w.bias);
    };
    const matrix = (w: { rows: number; cols: number }, what: string, rows: number, cols: number) => {
      if (w.rows !== rows || w.cols !== cols) throw new RangeError(`tensorloom: ${what} is [${w.rows}, ${w.cols}], expected [${rows}, ${cols}]`);
    };
    matrix(weights.tokenEmbedding, 'token embedding', c.vocabSize, c.dim);
    this.embedding = new Embedding(backend, weights.tokenEmbedding);
    if (c.rope === null) {
      if (!weights.positionEmbedding) throw new Error(`tensorloom: ${c.architecture}: no RoPE and no position embedding`);
      matrix(weights.positionEmbedding, 'position embedding', weights.positionEmbedding.rows, c.dim);
      if (weights.positionEmbedding.rows < c.contextLength + this.spec.positionOffset) throw new RangeError(`tensorloom: position embedding has ${weights.positionEmbedding.rows} rows for a context of ${c.contextLength}`);
      this.positions = new Embedding(backend, weights.positionEmbedding);
    } else this.positions = null;
    if (weights.tokenTypeEmbedding) {
      matrix(weights.tokenTypeEmbedding, 'token type embedding', weights.tokenTypeEmbedding.rows, c.dim);
      // llama.cpp adds type row 0 ("sentence A") to every token
      this.typeRow = new Float32Array(c.dim);
      new Embedding(backend, weights.tokenTypeEmbedding).forward(this.typeRow, Int32Array.of(0));
    } else this.typeRow = null;
    this.embeddingNorm = weights.embeddingNorm ? norm(weights.embeddingNorm, 'embedding norm') : null;
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    if (weights.layers.length !== c.nLayers) throw new RangeError(`tensorloom: ${c.architecture}: found ${weights.layers.length} layers, config says ${c.nLayers}`);
    this.layers = weights.layers.map((l, i) => {
      const at = (s: string) => `layer ${i} ${s}`;
      if (!l.up || !l.down || l.experts) throw new Error(`tensorloom: ${at('mlp')}: mixture-of-experts layers are not supported in embedding models`);
      const up = linear(l.up, at('mlp up'), c.hiddenDim, c.dim);
      const down = linear(l.down, at('mlp down'), c.dim, c.hiddenDim);
      const mlp = c.mlp === 'swiglu'
        ? new MLP(backend, { kind: 'swiglu', gate: linear(l.gate ?? failGate(at('mlp gate')), at('mlp gate'), c.hiddenDim, c.dim), up, down })
        : new MLP(backend, { kind: 'gelu', up, down, approximation: 'tanh' });
      const headNorm = (w: NormWeights | null | undefined, what: string): RMSNorm | null => {
        if (!c.qkNorm) return null;
        if (!w || w.weight.length !== c.headDim) throw new RangeError(`tensorloom: ${what} must have ${c.headDim} elements`);
        return new RMSNorm(backend, w.weight, c.normEps);
      };
      return {
        qNorm: headNorm(l.qNorm, at('attention q norm')),
        kNorm: headNorm(l.kNorm, at('attention k norm')),
        q: linear(l.q, at('attention q'), qDim, c.dim),
        k: linear(l.k, at('attention k'), kvDim, c.dim),
        v: linear(l.v, at('attention v'), kvDim, c.dim),
        o: linear(l.o, at('attention output'), c.dim, qDim),
        attnNorm: norm(l.attnNorm, at('attention norm')),
        mlp,
        mlpNorm: norm(l.mlpNorm, at('mlp norm')),
      };
    });
    this.finalNorm = weights.finalNorm ? norm(weights.finalNorm, 'final norm') : null;
    const cls = weights.classifier;
    this.classifierDense = cls?.dense ? linear(cls.dense, 'classifier dense', cls.dense.weight.rows, c.dim) : null;
    const clsIn = this.classifierDense ? this.classifierDense.outFeatures : c.dim;
    this.classifierOut = cls?.out ? linear(cls.out, 'classifier output', cls.out.weight.rows, clsIn) : null;
    this.shape = { T: 1, S: 1, H: c.nHeads, Hkv: c.nKvHeads, D: c.headDim, posOffset: 0, causal: this.spec.causal, ...(c.rope ? { rope: c.rope } : {}) };
  }

  /** The pooling the file declares (null: it does not say). */
  get defaultPooling(): Pooling | null {
    return this.spec.pooling;
  }

  /** Width of one pooled vector: dim, or the classifier's outputs for `rank`. */
  outputWidth(pooling: Pooling): number {
    if (pooling !== 'rank') return this.config.dim;
    return this.classifierOut?.outFeatures ?? this.classifierDense?.outFeatures ?? this.config.dim;
  }

  /**
   * The hidden states [N, dim] of texts packed back to back (N = total tokens); `bounds` are the
   * offsets [0, …, N]. Every text must fit the context; N must fit maxRows.
   */
  hidden(tokens: Int32Array, bounds: Int32Array): Float32Array {
    const c = this.config;
    const N = tokens.length;
    const b = this.backend;
    const ws = this.ws;
    const x = ws.rows('enc.x', N, c.dim);
    this.embedding.forward(x, tokens);
    if (this.positions) {
      const pos = new Int32Array(N);
      const off = this.spec.positionOffset;
      for (let i = 0; i + 1 < bounds.length; i++) for (let t = bounds[i]!; t < bounds[i + 1]!; t++) pos[t] = off + t - bounds[i]!;
      const p = ws.rows('enc.pos', N, c.dim);
      this.positions.forward(p, pos);
      b.add(x, x, p);
    }
    if (this.typeRow) {
      const row = this.typeRow;
      for (let t = 0; t < N; t++) for (let d = 0; d < c.dim; d++) x[t * c.dim + d]! += row[d]!;
    }
    if (this.embeddingNorm) this.embeddingNorm.forward(x, x, N);
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const h = ws.rows('enc.h', N, c.dim);
    const y = ws.rows('enc.y', N, c.dim);
    const q = ws.rows('enc.q', N, qDim);
    const k = ws.rows('enc.k', N, kvDim);
    const v = ws.rows('enc.v', N, kvDim);
    const att = ws.rows('enc.att', N, qDim);
    const shape = this.shape;
    shape.T = N;
    shape.S = N;
    shape.sequences = bounds;
    for (const l of this.layers) {
      const post = this.spec.postNorm;
      const inp = post ? x : h;
      if (!post) l.attnNorm.forward(h, x, N);
      l.q.forward(q, inp, N);
      l.k.forward(k, inp, N);
      l.v.forward(v, inp, N);
      if (l.qNorm) l.qNorm.forward(q, q, N * c.nHeads);
      if (l.kNorm) l.kNorm.forward(k, k, N * c.nKvHeads);
      b.attention(att, q, k, v, shape);
      l.o.forward(y, att, N);
      b.add(x, x, y);
      if (post) l.attnNorm.forward(x, x, N);
      else l.mlpNorm.forward(h, x, N);
      l.mlp.forward(y, post ? x : h, N, ws);
      b.add(x, x, y);
      if (post) l.mlpNorm.forward(x, x, N);
    }
    if (this.finalNorm) this.finalNorm.forward(x, x, N);
    return x;
  }

  /** One pooled vector per text (see `hidden` for the packing). */
  pool(hidden: Float32Array, bounds: Int32Array, pooling: Pooling): Float32Array[] {
    const dim = this.config.dim;
    const out: Float32Array[] = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      const a = bounds[i]!;
      const e = bounds[i + 1]!;
      // rank: the classification head reads the first token, or the last for causal decoder rerankers (it saw the pair)
      if (pooling === 'rank') out.push(this.classify(poolText(hidden, a, e, dim, this.spec.decoderRank ? 'last' : 'cls')));
      else out.push(poolText(hidden, a, e, dim, pooling));
    }
    return out;
  }

  /** The classification head of a reranker: dense + tanh, then the output projection. */
  private classify(first: Float32Array): Float32Array {
    if (!this.classifierDense && !this.classifierOut) throw new Error(`tensorloom: ${this.config.architecture}: 'rank' pooling needs a classification head (cls / cls.output tensors), and this model has none`);
    let cur = first;
    if (this.classifierDense) {
      const d = new Float32Array(this.classifierDense.outFeatures);
      this.classifierDense.forward(d, cur, 1);
      for (let i = 0; i < d.length; i++) d[i] = Math.tanh(d[i]!);
      cur = d;
    }
    if (this.classifierOut) {
      const o = new Float32Array(this.classifierOut.outFeatures);
      this.classifierOut.forward(o, cur, 1);
      cur = o;
    }
    if (this.spec.decoderRank) {
      // llama.cpp: softmax over the labels, score = p(label 0). As log-odds: z0 - log Σ_{j≠0} e^zj
      let max = -Infinity;
      for (let j = 1; j < cur.length; j++) max = Math.max(max, cur[j]!);
      let sum = 0;
      for (let j = 1; j < cur.length; j++) sum += Math.exp(cur[j]! - max);
      const logOdds = new Float32Array(cur.length);
      logOdds.set(cur);
      logOdds[0] = cur[0]! - (max + Math.log(sum));
      cur = logOdds;
    }
    return cur;
  }
}

function failGate(what: string): never {
  throw new Error(`tensorloom: ${what} is missing (SwiGLU needs it)`);
}
