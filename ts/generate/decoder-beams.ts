/**
 * A decoder model (Transformer) as a beam-search model (ts/generate/beam-search.ts): a beam's
 * state is a KV cache holding its prompt and tokens. The first beam continues in the model's own
 * cache (its prompt entries already there); a beam that splits gets a copy of its parent's cache
 * (copyPrefixFrom), from a pool of caches that dead beams return, so a search allocates at most
 * about 2·numBeams caches however long it runs. A step runs all beams as one multi-sequence
 * forward pass (`Transformer.runStep`, as the batching server does): the weights are read once
 * per step, not once per beam.
 */
import type { KVCache } from '../layers/kv-cache.js';
import type { Step, StepSequence } from '../layers/step.js';
import { Workspace } from '../layers/workspace.js';
import type { Transformer } from '../models/transformer.js';
import type { BeamSearchModel, BeamStart } from './beam-search.js';

export interface DecoderBeamState {
  cache: KVCache;
  /** Positions filled: the prompt and the tokens fed so far. */
  length: number;
}

export class DecoderBeams implements BeamSearchModel<DecoderBeamState> {
  private readonly pool: KVCache[] = [];
  private readonly owned = new Set<KVCache>();
  private readonly one = new Int32Array(1);
  private readonly ws: Workspace;
  private readonly batch: Step;
  private readonly logits: Float32Array;
  /** Beam-tokens run (one per beam per step). */
  forwards = 0;

  constructor(
    private readonly model: Transformer,
    /** Prompt positions already in model.cache. */
    private readonly promptLength: number,
    /** The prompt's next-token logits. */
    private readonly promptLogits: Float32Array,
    /** Capacity of the copies: the prompt plus the longest continuation. */
    private readonly capacity: number,
    /** Most beams stepped at once. */
    numBeams: number,
  ) {
    const rows = Math.max(2, numBeams);
    this.ws = new Workspace(rows);
    this.batch = { M: 0, N: 0, tokens: new Int32Array(rows), positions: new Int32Array(rows), sequences: [] };
    this.logits = new Float32Array(rows * model.config.vocabSize);
  }

  start(): BeamStart<DecoderBeamState> {
    return { state: { cache: this.model.cache, length: this.promptLength }, logits: this.promptLogits.slice() };
  }

  step(states: DecoderBeamState[], tokens: number[]): Float32Array[] {
    const B = states.length;
    if (B > 1 && B <= this.ws.maxRows) {
      const st = this.batch;
      const seqs: StepSequence[] = [];
      for (let i = 0; i < B; i++) {
        const s = states[i]!;
        st.tokens[i] = tokens[i]!;
        st.positions[i] = s.length;
        seqs.push({ offset: i, T: 1, pos: s.length, cache: s.cache });
      }
      st.M = B;
      st.N = B;
      st.sequences = seqs;
      const x = this.model.runStep(st, this.ws); // [B, dim]: one row per beam
      const V = this.model.config.vocabSize;
      this.model.logitsOf(this.logits.subarray(0, B * V), x, B, this.ws);
      this.forwards += B;
      return states.map((s, i) => {
        s.length++;
        return this.logits.slice(i * V, (i + 1) * V);
      });
    }
    return states.map((s, i) => {
      this.one[0] = tokens[i]!;
      // The forward's logits are a buffer the next forward overwrites: each beam keeps a copy.
      const logits = this.model.forward(this.one, s.length, undefined, s.cache).slice();
      s.length++;
      this.forwards++;
      return logits;
    });
  }

  fork(s: DecoderBeamState): DecoderBeamState {
    let cache = this.pool.pop();
    if (!cache) {
      cache = this.model.createCache(this.capacity);
      this.owned.add(cache);
    }
    cache.copyPrefixFrom(s.cache, s.length);
    return { cache, length: s.length };
  }

  release(s: DecoderBeamState): void {
    if (this.owned.has(s.cache)) this.pool.push(s.cache);
  }

  /** Frees the copies (the model's own cache stays). */
  dispose(): void {
    for (const c of this.owned) c.dispose();
    this.owned.clear();
    this.pool.length = 0;
  }
}
