/**
 * Turns one sequence's generated token ids into text deltas as they arrive: the tokenizer's
 * stream decoder keeps UTF-8 whole (it is primed with the prompt so SentencePiece keeps the
 * leading space of a continuation), and ts/generate's StopMatcher holds back text that could be
 * the start of a stop string and ends the stream at one.
 */
import { StopMatcher } from '../generate/stop-matcher.js';
import type { ServeTokenizer } from './engine.js';

export class TextStream {
  private readonly decoder: { push(id: number): string; flush(): string };
  private readonly stops: StopMatcher;

  constructor(tokenizer: ServeTokenizer, promptIds: readonly number[], stop: readonly string[]) {
    this.decoder = tokenizer.createStreamDecoder();
    for (const id of promptIds) this.decoder.push(id);
    this.stops = new StopMatcher(stop);
  }

  /** True once a stop string was seen; push() then returns ''. */
  get stopped(): boolean {
    return this.stops.stoppedBy !== null;
  }

  /** Adds one generated token; returns the text that can be shown now (often '', never partial UTF-8). */
  push(id: number): string {
    if (this.stopped) return '';
    return this.stops.push(this.decoder.push(id));
  }

  /** At the end of generation: everything held back. */
  flush(): string {
    if (this.stopped) return '';
    return this.stops.finish(this.decoder.flush());
  }
}
