/**
 * A decoder model (Transformer) as a beam-search model (ts/generate/beam-search.ts): a beam's
 * state is a KV cache holding its prompt and tokens. The first beam continues in the model's own
 * cache (its prompt entries already there); a beam that splits gets a copy of its parent's cache
 * (copyPrefixFrom), from a pool of caches that dead beams return, so a search allocates at most
 * about 2·numBeams caches however long it runs.
 */
import type { KVCache } from '../layers/kv-cache.js';
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
  /** Forward passes run (one per beam per step). */
  forwards = 0;

  constructor(
    private readonly model: Transformer,
    /** Prompt positions already in model.cache. */
    private readonly promptLength: number,
    /** The prompt's next-token logits. */
    private readonly promptLogits: Float32Array,
    /** Capacity of the copies: the prompt plus the longest continuation. */
    private readonly capacity: number,
  ) {}

  start(): BeamStart<DecoderBeamState> {
    return { state: { cache: this.model.cache, length: this.promptLength }, logits: this.promptLogits.slice() };
  }

  step(states: DecoderBeamState[], tokens: number[]): Float32Array[] {
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
