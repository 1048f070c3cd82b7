/**
 * Turns one sequence's generated token ids into text deltas as they arrive:
 * - UTF-8 safe: a token that ends inside a multi-byte character (the tokenizer then decodes
 *   U+FFFD) is held back until the character completes;
 * - context aware: each delta is the difference between decoding a short window with and
 *   without the new tokens, so tokenizers that drop a leading space at the start of a text
 *   (SentencePiece) still give the right spacing;
 * - stop strings: text that could be the beginning of a stop string is held back; when a stop
 *   string appears, the text before it is released and the stream reports `stopped`.
 */
import type { ServeTokenizer } from './engine.js';

/** How many prompt tokens seed the decoding window (enough for any merge of a leading space). */
const CONTEXT_TOKENS = 4;

export class TextStream {
  private readonly ids: number[];
  /** Window start: decode(ids[prefix:read]) is text already accounted for. */
  private prefix = 0;
  private read: number;
  /** Released by the tokenizer but held back because it may start a stop string. */
  private pending = '';
  private stoppedFlag = false;

  constructor(
    private readonly tokenizer: ServeTokenizer,
    promptIds: readonly number[],
    private readonly stop: readonly string[],
  ) {
    this.ids = promptIds.slice(-CONTEXT_TOKENS);
    this.read = this.ids.length;
  }

  /** True once a stop string was seen; push() then returns ''. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Adds one generated token; returns the text that can be shown now (often '', never partial UTF-8). */
  push(id: number): string {
    if (this.stoppedFlag) return '';
    this.ids.push(id);
    const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read));
    const after = this.tokenizer.decode(this.ids.slice(this.prefix));
    if (after.length <= before.length || after.endsWith('\uFFFD')) return '';
    this.prefix = this.read;
    this.read = this.ids.length;
    return this.release(after.slice(before.length));
  }

  /** At the end of generation: the held-back text (an incomplete character stays U+FFFD). */
  flush(): string {
    if (this.stoppedFlag) return '';
    let tail = '';
    if (this.read < this.ids.length) {
      const before = this.tokenizer.decode(this.ids.slice(this.prefix, this.read));
      tail = this.tokenizer.decode(this.ids.slice(this.prefix)).slice(before.length);
      this.prefix = this.read = this.ids.length;
    }
    const out = this.pending + tail;
    this.pending = '';
    return out;
  }

  private release(text: string): string {
    if (this.stop.length === 0) return text;
    const buf = this.pending + text;
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
    for (const s of this.stop) {
      for (let n = Math.min(s.length - 1, buf.length); n > hold; n--) {
        if (buf.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    this.pending = buf.slice(buf.length - hold);
    return buf.slice(0, buf.length - hold);
  }
}
