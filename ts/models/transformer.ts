/**
 * A decoder-only transformer built from the layer classes: embedding (+ learned positions),
 * L blocks, final norm, LM head. `runStep` is THE forward pass: it runs one step's rows (one
 * sequence's chunk, or many sequences' rows for the batching server, see ts/layers/step.ts)
 * through every layer, one matmul per projection for all rows. `forward` runs T tokens of one
 * sequence at positions [pos, pos + T) through it in chunks of at most `maxBatch` rows and returns
 * the logits of the last token; ts/server/batched-forward.ts builds multi-sequence steps.
 */
import type { Backend, Weights } from '../backend/types.js';
import { Attention } from '../layers/attention.js';
import { Block, type Norm } from '../layers/block.js';
import { Embedding } from '../layers/embedding.js';
import { KVCache, type KVDType } from '../layers/kv-cache.js';
import { LayerNorm } from '../layers/layernorm.js';
import { Linear } from '../layers/linear.js';
import { MLP } from '../layers/mlp.js';
import { MoE } from '../layers/moe.js';
import type { PerLayerInput } from '../layers/per-layer-input.js';
import { RMSNorm } from '../layers/rmsnorm.js';
import { RopeTable } from '../layers/rope-table.js';
import { Softcap } from '../layers/softcap.js';
import type { Step } from '../layers/step.js';
import { Workspace } from '../layers/workspace.js';
import type { RecurrentLayerSpec } from '../layers/recurrent-state.js';
import { validateConfig, type TransformerConfig } from './config.js';
import { concatRows, type LinearWeights, type NormWeights, type TransformerWeights } from './weights.js';

export interface TransformerOptions {
  /** KV cache capacity in positions. Default: min(config.contextLength, 4096). */
  contextLength?: number;
  /** KV cache storage. Default 'f32'. */
  kvCache?: KVDType;
  /** Most token rows per forward chunk (prefill). Default 256. */
  maxBatch?: number;
  /**
   * Run a single token's Q/K/V (and SwiGLU gate/up) projections as one matmul. 'auto' (default):
   * when the file stores them fused (GPT-2, no copy), or when a layer's parts are small enough
   * (≤ 512 KiB together) that a concatenated copy costs nothing — there the per-call overhead, not
   * bandwidth, bounds decode speed. Larger layers keep the mapped weights and run a token's
   * projections as one matmulTMany call (SharedProjections), which decodes as fast as the copy
   * from 110M parameters up; the copy would hold those weights twice (prefill still reads the
   * mapped ones).
   */
  fuseProjections?: 'auto' | boolean;
  /**
   * Sliding-window layers keep only a ring of window + maxBatch − 1 positions in their KV cache
   * (default true; false keeps every position, as full-attention layers do).
   */
  trimSlidingWindow?: boolean;
  /** Called after each block is built (load progress: the blocks are most of the loading work). */
  onLayer?: (built: number, total: number) => void;
}

// stories260K (32 KiB per layer): the copy saves ~40 % of decode CPU; 110M q4_k_m (1–1.8 MiB):
// none (5.74 vs 5.68 ms CPU/token, fused vs not, alternating in one process), but 28 MiB of
// duplicated weights in RSS.
const FUSE_COPY_MAX_BYTES = 512 << 10;

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
  /** Gemma 4's per-layer inputs (computed once per step, applied at the end of every block), or null. */
  readonly perLayerInput: PerLayerInput | null;
  /** Hybrid models: the recurrent state each layer keeps per sequence (null: attention only). */
  private readonly recurrentSpecs: RecurrentLayerSpec[] | null;
  readonly workspace: Workspace;
  private readonly logits: Float32Array;
  /** Gemma's final logit soft-capping, or null. */
  private readonly finalSoftcap: Softcap | null;
  /** The single-sequence step `forward` reuses (no allocation per token). */
  private readonly step: Step;
  private readonly positionViews = new Map<number, Int32Array>();
  private readonly positionBuffer: Int32Array;
  private disposed = false;
  private readonly trimSlidingWindow: boolean;

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
      if (w.weight.length !== c.dim) throw new RangeError(`tensorloom: ${named(what, w, 'weight')} has ${w.weight.length} elements, expected ${c.dim}`);
      if (w.bias && w.bias.length !== c.dim) throw new RangeError(`tensorloom: ${named(what, w, 'bias')} has ${w.bias.length} elements, expected ${c.dim}`);
      return c.norm === 'rmsnorm' ? new RMSNorm(backend, w.weight, c.normEps) : new LayerNorm(backend, w.weight, w.bias, c.normEps);
    };
    const linear = (w: LinearWeights, what: string, rows: number, cols: number): Linear => {
      checkMatrix(named(what, w, 'weight'), w.weight, rows, cols);
      if (w.bias && w.bias.length !== rows) throw new RangeError(`tensorloom: ${named(what, w, 'bias')} has ${w.bias.length} elements, expected ${rows}`);
      return new Linear(backend, w.weight, w.bias);
    };
    const qDim = c.nHeads * c.headDim;
    const kvDim = c.nKvHeads * c.headDim;
    const fuse = options.fuseProjections ?? 'auto';
    const fused = (stored: LinearWeights | null | undefined, parts: LinearWeights[], what: string, rows: number): Linear | null => {
      if (fuse === false) return null;
      if (stored) return linear(stored, what, rows, c.dim);
      const bytes = parts.reduce((n, p) => n + p.weight.data.byteLength, 0);
      if (fuse === 'auto' && bytes > FUSE_COPY_MAX_BYTES) return null;
      if (parts.some((p) => p.weight.dtype !== parts[0]!.weight.dtype || p.weight.cols !== c.dim)) return null;
      return linear(concatRows(parts), what, rows, c.dim);
    };
    // LongRoPE: the long factors for a model extended past its original context. llama.cpp decides by
    // its runtime context instead (short factors at -c ≤ original); the server's layers hold no
    // context of their own, so the trained one decides here.
    const lr = c.longRope;
    const scaling = lr ? { type: 'longrope' as const, factor: 1, freqFactors: c.contextLength > lr.originalContext ? lr.long : lr.short, attnFactor: lr.attnFactor } : c.ropeScaling;
    const ropeTable = c.rope && scaling ? new RopeTable({ theta: c.rope.theta, layout: c.rope.layout, dims: c.rope.dims ?? c.headDim, scaling, backend }) : null;
    const headNorm = (w: NormWeights | null | undefined, what: string): RMSNorm | null => {
      if (!c.qkNorm) return null;
      if (!w) throw new Error(`tensorloom: ${what} is missing (this family normalizes q and k per head)`);
      if (w.weight.length !== c.headDim) throw new RangeError(`tensorloom: ${named(what, w, 'weight')} has ${w.weight.length} elements, expected ${c.headDim} (the head dimension)`);
      return new RMSNorm(backend, w.weight, c.normEps);
    };
    // Gemma 3's local layers: their own RoPE base, no RoPE scaling
    const slides = (i: number): boolean => !!c.slidingWindow && (c.slidingWindow.layers?.[i] ?? true);
    const local = (i: number): boolean => c.swaRopeTheta !== undefined && slides(i);
    this.perLayerInput = weights.perLayerInput?.(backend) ?? null;
    const tail = this.perLayerInput;
    if (c.layerHiddenDims && c.layerHiddenDims.length !== c.nLayers) throw new RangeError(`tensorloom: ${c.architecture}: ${c.layerHiddenDims.length} feed-forward widths for ${c.nLayers} layers`);
    this.blocks = weights.layers.map((l, i) => {
      const hiddenDim = c.layerHiddenDims?.[i] ?? c.hiddenDim;
      const at = (s: string): string => `layer ${i} ${s}`;
      const attention = 'mixer' in l ? l.mixer(backend) : new Attention(backend, {
        q: linear(l.q, at('attention q'), qDim, c.dim),
        k: linear(l.k, at('attention k'), kvDim, c.dim),
        v: linear(l.v, at('attention v'), kvDim, c.dim),
        o: linear(l.o, at('attention output'), c.dim, qDim),
        qkv: fused(l.qkv, [l.q, l.k, l.v], at('fused attention qkv'), qDim + 2 * kvDim),
        nHeads: c.nHeads,
        nKvHeads: c.nKvHeads,
        headDim: c.headDim,
        rope: c.noRopeLayers?.[i] || !c.rope ? null : local(i) ? { ...c.rope, theta: c.swaRopeTheta! } : c.rope,
        ropeTable: c.noRopeLayers?.[i] || local(i) ? null : ropeTable,
        qNorm: headNorm(l.qNorm, at('attention q norm (attn_q_norm)')),
        kNorm: headNorm(l.kNorm, at('attention k norm (attn_k_norm)')),
        ...(c.attnScale !== undefined ? { scale: c.attnScale } : {}),
        temperature: c.attnTemperature ?? null,
        window: slides(i) ? c.slidingWindow!.size : null,
        softcap: c.attnSoftcap ?? null,
      });
      const postNorm = (w: NormWeights | null | undefined, what: string): Norm | null => {
        if (!c.postNorms) return null;
        if (!w) throw new Error(`tensorloom: ${at(what)} is missing (this family normalizes each block output)`);
        return norm(w, at(what));
      };
      const postAttn = postNorm(l.postAttnNorm, 'post-attention norm (post_attention_norm)');
      const postMlp = postNorm(l.postMlpNorm, 'post-MLP norm (post_ffw_norm)');
      let mlp: MLP | MoE;
      if (c.moe) {
        const m = c.moe;
        const x = l.experts;
        if (!x) throw new Error(`tensorloom: ${at('experts')} are missing (the config declares ${m.experts} experts)`);
        for (const [what, list] of [['gate', x.gate], ['up', x.up], ['down', x.down]] as const) {
          if (list.length !== m.experts) throw new RangeError(`tensorloom: ${at(`expert ${what} projections`)}: found ${list.length}, expert_count says ${m.experts}`);
        }
        mlp = new MoE(backend, {
          router: linear(x.router, at('expert router (ffn_gate_inp)'), m.experts, c.dim),
          experts: x.gate.map((g, e) => ({
            gate: linear(g, at(`expert ${e} gate`), m.hiddenDim, c.dim),
            up: linear(x.up[e]!, at(`expert ${e} up`), m.hiddenDim, c.dim),
            down: linear(x.down[e]!, at(`expert ${e} down`), c.dim, m.hiddenDim),
          })),
          used: m.used,
        });
        const ffn = 'wrapFfn' in l && l.wrapFfn ? l.wrapFfn(backend, mlp) : mlp;
        return new Block(backend, norm(l.attnNorm, at('attention norm')), attention, norm(l.mlpNorm, at('mlp norm')), ffn, postAttn, postMlp, tail);
      }
      if (!l.up || !l.down) throw new Error(`tensorloom: ${at('mlp up/down')} projections are missing`);
      const up = linear(l.up, at('mlp up'), hiddenDim, c.dim);
      const down = linear(l.down, at('mlp down'), c.dim, hiddenDim);
      if (c.mlp === 'swiglu') {
        if (!l.gate) throw new Error(`tensorloom: ${at('mlp gate')} is missing (SwiGLU needs it)`);
        const gate = linear(l.gate, at('mlp gate'), hiddenDim, c.dim); // checked first: its error names the tensor
        const gateUp = fused(l.gateUp, [l.gate, l.up!], at('fused mlp gate/up'), 2 * hiddenDim);
        mlp = new MLP(backend, { kind: 'swiglu', gate, up, down, gateUp });
      } else if (c.mlp === 'geglu') {
        if (!l.gate) throw new Error(`tensorloom: ${at('mlp gate')} is missing (GeGLU needs it)`);
        const gate = linear(l.gate, at('mlp gate'), hiddenDim, c.dim);
        const gateUp = fused(l.gateUp, [l.gate, l.up!], at('fused mlp gate/up'), 2 * hiddenDim);
        mlp = new MLP(backend, { kind: 'geglu', gate, up, down, gateUp });
      } else {
        mlp = new MLP(backend, { kind: 'gelu', up, down, approximation: 'tanh' });
      }
      const ffn = 'wrapFfn' in l && l.wrapFfn ? l.wrapFfn(backend, mlp) : mlp;
      const block = new Block(backend, norm(l.attnNorm, at('attention norm')), attention, norm(l.mlpNorm, at('mlp norm')), ffn, postAttn, postMlp, tail);
      options.onLayer?.(i + 1, weights.layers.length);
      return block;
    });
    this.finalNorm = norm(weights.finalNorm, 'final norm');
    checkMatrix('LM head', weights.lmHead, c.vocabSize, c.dim);
    this.lmHead = new Linear(backend, weights.lmHead);
    const specs = this.blocks.map((b) => b.attention.stateSpec);
    this.recurrentSpecs = specs.some((x) => x) ? specs.map((x) => x ?? { size: 0, owner: 'attention (KV cache)' }) : null;
    this.trimSlidingWindow = options.trimSlidingWindow ?? true;
    this.cache = this.createCache(ctx, options.kvCache ?? 'f32');
    this.logits = new Float32Array(c.vocabSize);
    this.finalSoftcap = c.finalSoftcap ? new Softcap(backend, c.finalSoftcap, c.vocabSize) : null;
    this.positionBuffer = new Int32Array(maxBatch);
    this.step = { M: 0, N: 0, tokens: new Int32Array(0), positions: this.positionBuffer, sequences: [{ offset: 0, T: 0, pos: 0, cache: this.cache }] };
  }

  /**
   * Another KV cache shaped for this model (e.g. one per sequence when serving several). `maxChunk`:
   * the most rows of one sequence a step will carry (sizes the sliding-window rings).
   */
  createCache(maxSeq = this.contextLength, dtype = this.cache.dtype, maxChunk = this.workspace.maxRows): KVCache {
    const c = this.config;
    const w = c.slidingWindow;
    const windows = w && this.trimSlidingWindow ? Array.from({ length: c.nLayers }, (_, i) => ((w.layers?.[i] ?? true) ? w.size : null)) : null;
    return new KVCache({
      layers: c.nLayers, maxSeq, kvHeads: c.nKvHeads, headDim: c.headDim, dtype,
      allocate: (bytes) => this.backend.allocate(bytes),
      ...(this.recurrentSpecs ? { recurrent: this.recurrentSpecs } : {}),
      ...(c.kvLayout ? { layerShapes: c.kvLayout.shapes, sharedFrom: c.kvLayout.sharedFrom } : {}),
      ...(windows ? { windows, maxChunk } : {}),
    });
  }

  /**
   * Runs `tokens` at positions [pos, pos + T) (pos ≤ the cache's valid length; entries after
   * pos are overwritten) and returns the logits of the last token — a view that the next call
   * overwrites. With `allLogits` (length T × vocab) every row's logits are written there too.
   * `cache` defaults to the model's own; pass one from createCache() to keep several sequences.
   */
  forward(tokens: Int32Array, pos: number, allLogits?: Float32Array, cache: KVCache = this.cache): Float32Array {
    if (this.disposed) throw new Error('tensorloom: this model has been disposed');
    const T = tokens.length;
    if (T < 1) throw new RangeError('tensorloom: forward needs at least one token');
    if (!Number.isInteger(pos) || pos < 0 || pos > cache.length) {
      throw new RangeError(`tensorloom: position ${pos} must be in [0, ${cache.length}] (the cached length)`);
    }
    if (pos + T > cache.maxSeq) {
      throw new RangeError(`tensorloom: ${pos + T} positions exceed the context length ${cache.maxSeq}`);
    }
    if (this.positionEmbedding && pos + T > this.config.contextLength) {
      throw new RangeError(`tensorloom: ${pos + T} positions exceed the ${this.config.contextLength} learned positions`);
    }
    const c = this.config;
    if (cache.layers !== c.nLayers || cache.kvHeads !== c.nKvHeads || cache.headDim !== c.headDim) {
      throw new RangeError('tensorloom: the KV cache was not made for this model (see createCache)');
    }
    if (cache.recurrent && T > 1 && !allLogits) {
      // A recurrent state cannot be cut back: keep a snapshot before the prompt's last token, where
      // the next prompt sharing this one resumes (its last token always runs again, for its logits).
      // The recurrent layers take it on their way through the one pass (RecurrentState.snapshotRow).
      cache.recurrent.beginSnapshotAt(pos + T - 1);
      let ok = false;
      try {
        const logits = this.forwardRows(tokens, pos, undefined, cache);
        ok = true;
        return logits;
      } finally {
        cache.recurrent.endSnapshot(ok);
      }
    }
    return this.forwardRows(tokens, pos, allLogits, cache);
  }

  /** forward's checked body: the rows in chunks of at most maxBatch. */
  private forwardRows(tokens: Int32Array, pos: number, allLogits: Float32Array | undefined, cache: KVCache): Float32Array {
    const T = tokens.length;
    const V = this.config.vocabSize;
    if (allLogits && allLogits.length !== T * V) throw new RangeError(`tensorloom: allLogits has ${allLogits.length} elements, expected ${T * V}`);
    const maxBatch = this.workspace.maxRows;
    for (let start = 0; start < T; start += maxBatch) {
      const n = Math.min(maxBatch, T - start);
      const last = start + n === T;
      // Without allLogits only the prompt's last row is read: the last block's MLP skips the others.
      let outputRows: Int32Array | null = null;
      if (!allLogits && n > 1) outputRows = last ? this.lastRowOf(n) : Transformer.noRows;
      const x = this.runChunk(n === T ? tokens : tokens.subarray(start, start + n), pos + start, cache, outputRows);
      if (allLogits) this.logitsOf(allLogits.subarray(start * V, (start + n) * V), x, n, this.workspace);
      if (last) {
        if (allLogits) this.logits.set(allLogits.subarray((T - 1) * V));
        else this.logitsOf(this.logits, x, 1, this.workspace);
      }
    }
    return this.logits;
  }

  private static readonly noRows = new Int32Array(0);
  private readonly lastRow = new Int32Array(1);
  /** [n - 1]: the last row of an n-row chunk, as Step.outputRows. */
  private lastRowOf(n: number): Int32Array {
    this.lastRow[0] = n - 1;
    return this.lastRow;
  }

  /** Runs one chunk of a single sequence through runStep (reusing one Step object). */
  private runChunk(tokens: Int32Array, pos: number, cache: KVCache, outputRows: Int32Array | null = null): Float32Array {
    const n = tokens.length;
    const st = this.step;
    let positions = this.positionViews.get(n);
    if (!positions) this.positionViews.set(n, (positions = this.positionBuffer.subarray(0, n)));
    for (let i = 0; i < n; i++) positions[i] = pos + i;
    st.M = n;
    st.N = n;
    st.tokens = tokens;
    st.positions = positions;
    st.outputRows = outputRows;
    const seq = st.sequences[0]!;
    seq.T = n;
    seq.pos = pos;
    seq.cache = cache;
    return this.runStep(st, this.workspace);
  }

  /**
   * The forward pass: embeds the step's M rows (token + learned position), runs every block
   * (token-parallel ops over all rows, attention per sequence against its cache), marks the new
   * positions valid in each sequence's cache, and returns the residual stream [M, dim] (a view of
   * `ws`), or only the rows `step.outputRows` names, packed. Callers take the rows they want logits
   * for through `logitsOf`.
   */
  runStep(step: Step, ws: Workspace): Float32Array {
    if (this.disposed) throw new Error('tensorloom: this model has been disposed');
    const M = step.M;
    const x = ws.rows('residual', M, this.config.dim);
    this.embedding.forward(x, step.tokens.subarray(0, M));
    const es = this.config.embedScale;
    if (es !== undefined) {
      const f = Math.fround(es);
      for (let i = 0; i < M * this.config.dim; i++) x[i]! *= f;
    }
    if (this.perLayerInput) this.perLayerInput.prepare(step.tokens, x, M, ws);
    if (this.positionEmbedding) {
      const p = ws.rows('positions', M, this.config.dim);
      this.positionEmbedding.forward(p, step.positions.subarray(0, M));
      this.backend.add(x, x, p);
    }
    const keep = step.outputRows ?? null;
    if (keep) checkOutputRows(keep, M);
    const L = this.blocks.length;
    let rows = M;
    for (let l = 0; l < L; l++) rows = this.blocks[l]!.forward(x, step, l, ws, l === L - 1 ? keep : null);
    for (const s of step.sequences) {
      s.cache.length = s.pos + s.T;
      s.cache.writtenEnd = s.pos === 0 ? s.T : Math.max(s.cache.writtenEnd, s.pos + s.T);
      const rec = s.cache.recurrent;
      if (rec) {
        rec.length = s.pos + s.T;
      }
    }
    if (rows === M) return x;
    return rows === 0 ? x.subarray(0, 0) : ws.rows('residual', rows, this.config.dim);
  }

  /** logits `[W, vocab]` of the W residual rows `h` (`[W, dim]`): final norm + LM head. */
  logitsOf(out: Float32Array, h: Float32Array, W: number, ws: Workspace): void {
    const hn = ws.rows('head.norm', W, this.config.dim);
    this.finalNorm.forward(hn, h, W);
    this.lmHead.forward(out, hn, W);
    this.finalSoftcap?.apply(out, W);
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

/**
 * `what` naming the file's tensor when the loader recorded it: "layer 0 attention q norm
 * (attn_q_norm)" → "layer 0 attention q norm (blk.0.attn_q_norm.weight)".
 */
function named(what: string, w: { name?: string }, part: 'weight' | 'bias'): string {
  return w.name ? `${what.replace(/ \([a-z_]+\)$/, '')} (${w.name}.${part})` : what;
}

function checkOutputRows(rows: Int32Array, M: number): void {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (!(r >= 0 && r < M) || (i > 0 && r <= rows[i - 1]!)) {
      throw new RangeError(`tensorloom: step.outputRows must be ascending rows in [0, ${M}), got ${r} at index ${i}`);
    }
  }
}

function checkMatrix(what: string, w: Weights, rows: number, cols: number): void {
  if (w.rows !== rows || w.cols !== cols) throw new RangeError(`tensorloom: ${what} is [${w.rows}, ${w.cols}], expected [${rows}, ${cols}]`);
}
