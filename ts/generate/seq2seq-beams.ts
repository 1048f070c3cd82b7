/**
 * An encoder-decoder (T5 family) as a beam-search model (ts/generate/beam-search.ts). The source
 * is encoded once, before the search: every beam's state is a DecoderState pointing at that one
 * EncodedSource, so the cross-attention K/V are shared read-only by all beams and never copied.
 * Only the decoder's self-attention cache is per beam: a beam that splits gets a copy of its
 * parent's filled positions, in caches from a pool that dead beams return (so a search allocates
 * about 2·numBeams caches however long it runs), each sized for the search, not for maxTarget.
 * Each step runs all live beams as the rows of one batched decoder step (EncoderDecoder.decodeRows,
 * the mechanism serving uses to fuse the decode rows of several requests): the projections, feed-
 * forwards and LM head read their weights once per step instead of once per beam.
 */
import type { DecoderState, EncodedSource, EncoderDecoder } from '../models/encoder-decoder.js';
import type { BeamSearchModel, BeamStart } from './beam-search.js';

interface Cache {
  k: Float32Array[];
  v: Float32Array[];
}

export class Seq2SeqBeams implements BeamSearchModel<DecoderState> {
  private readonly pool: Cache[] = [];
  private readonly one = new Int32Array(1);
  /** The [beams, vocab] logits of the last step (reused: the search reads them before the next step). */
  private rows = new Float32Array(0);
  /** Floats per position per layer (K or V). */
  private readonly rowSize: number;
  /** Decoder tokens run (one per beam per step, the start token included). */
  forwards = 0;

  constructor(
    private readonly model: EncoderDecoder,
    private readonly source: EncodedSource,
    /** Decoder positions a beam may fill: the start token plus every generated token but the last. */
    private readonly capacity: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > model.maxTarget) {
      throw new RangeError(`tensorloom: beam capacity must be an integer in [1, ${model.maxTarget}] (the decoder's context); got ${capacity}`);
    }
    this.rowSize = model.config.nKvHeads * model.config.headDim;
  }

  /** The decoder's start token run over the source: the first beam and its next-token logits. */
  start(): BeamStart<DecoderState> {
    const state = this.take();
    this.one[0] = this.model.spec.decoderStartTokenId;
    const logits = this.model.decode(state, this.one).slice();
    this.forwards++;
    return { state, logits };
  }

  step(states: DecoderState[], tokens: number[]): Float32Array[] {
    for (const s of states) if (s.pos >= this.capacity) throw new RangeError(`tensorloom: a beam ran past its ${this.capacity} decoder positions`);
    const V = this.model.config.vocabSize;
    const R = states.length;
    if (this.rows.length < R * V) this.rows = new Float32Array(R * V);
    const ids = Int32Array.from(tokens);
    // one batched decoder step per at most maxRows beams (the model's workspace height)
    const chunk = this.model.maxRows;
    for (let r = 0; r < R; r += chunk) {
      const n = Math.min(chunk, R - r);
      this.model.decodeRows(states.slice(r, r + n), ids.subarray(r, r + n), this.rows.subarray(r * V, (r + n) * V));
    }
    this.forwards += R;
    return states.map((_, i) => this.rows.subarray(i * V, (i + 1) * V));
  }

  fork(s: DecoderState): DecoderState {
    const copy = this.take();
    const n = s.pos * this.rowSize;
    for (let l = 0; l < copy.k.length; l++) {
      copy.k[l]!.set(s.k[l]!.subarray(0, n));
      copy.v[l]!.set(s.v[l]!.subarray(0, n));
    }
    copy.pos = s.pos;
    return copy;
  }

  release(s: DecoderState): void {
    this.pool.push({ k: s.k, v: s.v });
  }

  /** An empty decoder state on the shared source, its cache from the pool or new. */
  private take(): DecoderState {
    const layers = this.model.spec.decoderLayers;
    const size = this.capacity * this.rowSize;
    const c = this.pool.pop() ?? {
      k: Array.from({ length: layers }, () => new Float32Array(size)),
      v: Array.from({ length: layers }, () => new Float32Array(size)),
    };
    return { source: this.source, pos: 0, k: c.k, v: c.v };
  }
}
