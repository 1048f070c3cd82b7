/**
 * A decoder-only transformer built from the layer classes: embedding (+ learned positions),
 * L blocks, final norm, LM head. `forward` runs a batch of T tokens at positions
 * [pos, pos + T) through every layer in one pass per layer (prefill is one matmul with M = T),
 * in chunks of at most `maxBatch` rows, and returns the logits of the last token.
 */
import type { Backend, Weights } from '../backend/types.js';
import { Attention } from '../layers/attention.js';
import { Block, type Norm } from '../layers/block.js';
import { Embedding } from '../layers/embedding.js';
import { KVCache, type KVDType } from '../layers/kv-cache.js';
import { LayerNorm } from '../layers/layernorm.js';
import { Linear } from '../layers/linear.js';
import { MLP } from '../layers/mlp.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import { Workspace } from '../layers/workspace.js';
import { validateConfig, type TransformerConfig } from './config.js';
import type { LinearWeights, NormWeights, TransformerWeights } from './weights.js';

export interface TransformerOptions {
  /** KV cache capacity in positions. Default: min(config.contextLength, 4096). */
  contextLength?: number;
  /** KV cache storage. Default 'f32'. */
  kvCache?: KVDType;
  /** Most token rows per forward chunk (prefill). Default 256. */
  maxBatch?: number;
}

export class Transformer {
  readonly config: TransformerConfig;
  /** KV cache capacity: the longest sequence this instance can hold. */
  readonly contextLength: number;
  readonly embedding: Embedding;
  readonly positionEmbedding: Embedding | null;
  readonly blocks: Block[];
  readonly finalNorm: Norm;
  readonly lmHead: Linear;
  readonly cache: KVCache;
  readonly workspace: Workspace;
  private readonly logits: Float32Array;
  private readonly posIds: Int32Array;
  private readonly posIds1: Int32Array;
  private disposed = false;

  constructor(
    readonly backend: Backend,
    config: TransformerConfig,
    weights: TransformerWeights,
    options: TransformerOptions = {},
  ) {
    validateConfig(config, config.architecture);
    this.config = config;
    const ctx = options.contextLength ?? Math.min(config.contextLength, 4096);
    if (!Number.isInteger(ctx) || ctx < 1) throw new RangeError(`tensorloom: contextLength must be a positive integer, got ${ctx}`);
    if (config.rope === null && ctx > config.contextLength) {
      throw new RangeError(`tensorloom: contextLength ${ctx} exceeds the ${config.contextLength} learned positions of this model`);
    }
    this.contextLength = ctx;
    const maxBatch = Math.min(options.maxBatch ?? 256, ctx);
    this.workspace = new Workspace(maxBatch);

    const c = config;
    checkMatrix('token embedding', weights.tokenEmbedding, c.vocabSize, c.dim);
    this.embedding = new Embedding(backend, weights.tokenEmbedding);
    if (c.rope === null) {
      if (!weights.positionEmbedding) throw new Error(`tensorloom: ${c.architecture}: the model has no RoPE and no position embedding`);
      checkMatrix('position embedding', weights.positionEmbedding, c.contextLength, c.dim);
      this.positionEmbedding = new Embedding(backend, weights.positionEmbedding);
    } else {
      this.positionEmbedding = null;
    }
    if (weights.layers.length !== c.nLayers) throw new RangeError(`tensorloom: ${c.architecture}: found ${weights.layers.length} layers, config says ${c.nLayers}`);

    const norm = (w: NormWeights, what: string): Norm => {
      if (w.weight.length !== c.dim) throw new RangeError(`tensorloom: ${what} has ${w.weight.length} elements, expected ${c.dim}`);
      return c.norm === 'rmsnorm' ? new RMSNorm(backend, w.weight, c.normEps) : new LayerNorm(backend, w.weight, w.bias, c.normEps);
    };
    const linear = (w: LinearWeights, what: string, rows: number, cols: number): Linear => {
      checkMatrix(what, w.weight, rows, cols);
      return new Linear(backend, w.weight, w.bias);
    };
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    this.blocks = weights.layers.map((l, i) => {
      const at = (s: string): string => `layer ${i} ${s}`;
      const attention = new Attention(backend, {
        q: linear(l.q, at('attention q'), qDim, c.dim),
        k: linear(l.k, at('attention k'), kvDim, c.dim),
        v: linear(l.v, at('attention v'), kvDim, c.dim),
        o: linear(l.o, at('attention output'), c.dim, qDim),
        nHeads: c.nHeads,
        nKvHeads: c.nKvHeads,
        headDim: c.headDim,
        rope: c.rope,
      });
      const up = linear(l.up, at('mlp up'), c.hiddenDim, c.dim);
      const down = linear(l.down, at('mlp down'), c.dim, c.hiddenDim);
      let mlp: MLP;
      if (c.mlp === 'swiglu') {
        if (!l.gate) throw new Error(`tensorloom: ${at('mlp gate')} is missing (SwiGLU needs it)`);
        mlp = new MLP(backend, { kind: 'swiglu', gate: linear(l.gate, at('mlp gate'), c.hiddenDim, c.dim), up, down });
      } else {
        mlp = new MLP(backend, { kind: 'gelu', up, down, approximation: 'tanh' });
      }
      return new Block(backend, norm(l.attnNorm, at('attention norm')), attention, norm(l.mlpNorm, at('mlp norm')), mlp);
    });
    this.finalNorm = norm(weights.finalNorm, 'final norm');
    checkMatrix('LM head', weights.lmHead, c.vocabSize, c.dim);
    this.lmHead = new Linear(backend, weights.lmHead);
    this.cache = new KVCache({ layers: c.nLayers, maxSeq: ctx, kvHeads: c.nKvHeads, headDim: c.headDim, dtype: options.kvCache ?? 'f32' });
    this.logits = new Float32Array(c.vocabSize);
    this.posIds = new Int32Array(maxBatch);
    this.posIds1 = this.posIds.subarray(0, 1);
  }

  /**
   * Runs `tokens` at positions [pos, pos + T) (pos ≤ the cache's valid length; entries after
   * pos are overwritten) and returns the logits of the last token — a view that the next call
   * overwrites. With `allLogits` (length T × vocab) every row's logits are written there too.
   */
  forward(tokens: Int32Array, pos: number, allLogits?: Float32Array): Float32Array {
    if (this.disposed) throw new Error('tensorloom: this model has been disposed');
    const T = tokens.length;
    if (T < 1) throw new RangeError('tensorloom: forward needs at least one token');
    if (!Number.isInteger(pos) || pos < 0 || pos > this.cache.length) {
      throw new RangeError(`tensorloom: position ${pos} must be in [0, ${this.cache.length}] (the cached length)`);
    }
    if (pos + T > this.contextLength) {
      throw new RangeError(`tensorloom: ${pos + T} positions exceed the context length ${this.contextLength}`);
    }
    const V = this.config.vocabSize;
    if (allLogits && allLogits.length !== T * V) throw new RangeError(`tensorloom: allLogits has ${allLogits.length} elements, expected ${T * V}`);
    const maxBatch = this.workspace.maxRows;
    for (let start = 0; start < T; start += maxBatch) {
      const n = Math.min(maxBatch, T - start);
      const x = this.runChunk(n === T ? tokens : tokens.subarray(start, start + n), pos + start);
      this.cache.length = pos + start + n;
      if (allLogits) {
        const h = this.workspace.rows('head.norm', n, this.config.dim);
        this.finalNorm.forward(h, x, n);
        this.lmHead.forward(allLogits.subarray(start * V, (start + n) * V), h, n);
      }
      if (start + n === T) {
        if (allLogits) this.logits.set(allLogits.subarray((T - 1) * V));
        else {
          const dim = this.config.dim;
          const last = n === 1 ? x : x.subarray((n - 1) * dim, n * dim);
          const h = this.workspace.rows('head.norm', 1, dim);
          this.finalNorm.forward(h, last, 1);
          this.lmHead.forward(this.logits, h, 1);
        }
      }
    }
    return this.logits;
  }

  /** Embeds and runs one chunk through the blocks; returns the residual stream [n, dim]. */
  private runChunk(tokens: Int32Array, pos: number): Float32Array {
    const n = tokens.length;
    const ws = this.workspace;
    const x = ws.rows('residual', n, this.config.dim);
    this.embedding.forward(x, tokens);
    if (this.positionEmbedding) {
      const ids = n === 1 ? this.posIds1 : this.posIds.subarray(0, n);
      for (let i = 0; i < n; i++) ids[i] = pos + i;
      const p = ws.rows('positions', n, this.config.dim);
      this.positionEmbedding.forward(p, ids);
      this.backend.add(x, x, p);
    }
    for (let l = 0; l < this.blocks.length; l++) this.blocks[l]!.forward(x, n, pos, this.cache, l, ws);
    return x;
  }

  /** Bytes of scratch and KV cache this instance allocated (weights not included). */
  get runtimeBytes(): number {
    return this.cache.bytes + this.workspace.bytes + this.logits.byteLength;
  }

  /** Frees the KV cache; the instance cannot be used afterwards. */
  dispose(): void {
    this.disposed = true;
    this.cache.dispose();
  }
}

function checkMatrix(what: string, w: Weights, rows: number, cols: number): void {
  if (w.rows !== rows || w.cols !== cols) throw new RangeError(`tensorloom: ${what} is [${w.rows}, ${w.cols}], expected [${rows}, ${cols}]`);
}
