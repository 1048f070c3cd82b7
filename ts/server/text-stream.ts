/**
 * Turns one sequence's generated token ids into text deltas as they arrive: the tokenizer's
 * stream decoder keeps UTF-8 whole (it is primed with the prompt so SentencePiece keeps the
 * leading space of a continuation); text that could be the beginning of a stop string is held
 * back, and when a stop string appears the text before it is released and the stream reports
 * `stopped`.
 */
import type { ServeTokenizer } from './engine.js';

export class TextStream {
  private readonly decoder: { push(id: number): string; flush(): string };
  /** Decoded but held back because it may start a stop string. */
  private pending = '';
  private stoppedFlag = false;

  constructor(
    tokenizer: ServeTokenizer,
    promptIds: readonly number[],
    private readonly stop: readonly string[],
  ) {
    this.decoder = tokenizer.createStreamDecoder();
    for (const id of promptIds) this.decoder.push(id);
  }

  /** True once a stop string was seen; push() then returns ''. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Adds one generated token; returns the text that can be shown now (often '', never partial UTF-8). */
  push(id: number): string {
    if (this.stoppedFlag) return '';
    return this.release(this.decoder.push(id), false);
  }

  /** At the end of generation: everything held back. */
  flush(): string {
    if (this.stoppedFlag) return '';
    return this.release(this.decoder.flush(), true);
  }

  private release(text: string, final: boolean): string {
    const buf = this.pending + text;
    if (this.stop.length === 0) {
      this.pending = '';
      return buf;
    }
    let cut = -1;
    for (const s of this.stop) {
      const at = buf.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stoppedFlag = true;
      this.pending = '';
      return buf.slice(0, cut);
    }
    // Hold back the longest suffix of buf that is a proper prefix of some stop string.
    let hold = 0;
    if (!final) {
      for (const s of this.stop) {
        for (let n = Math.min(s.length - 1, buf.length); n > hold; n--) {
          if (buf.endsWith(s.slice(0, n))) {
            hold = n;
            break;
          }
        }
      }
    }
    this.pending = buf.slice(buf.length - hold);
    return buf.slice(0, buf.length - hold);
  }
}
