/**
 * Stop strings over streamed text: text that might turn out to be the start of a stop string is
 * held back (the longest suffix that is a prefix of one) until it either completes the stop
 * string — then everything from the stop string on is dropped — or stops matching.
 * (UTF-8 safety comes before this: the tokenizer's stream decoder only returns whole characters.)
 */
export class StopMatcher {
  private pending = '';
  private readonly stops: readonly string[];
  /** The stop string that ended the text, once one did. */
  stoppedBy: string | null = null;

  constructor(stop: readonly string[] = []) {
    this.stops = stop.filter((s) => s.length > 0);
  }

  /** Feeds decoded text; returns the text that can be emitted now ('' if none). */
  push(text: string): string {
    if (this.stoppedBy !== null) return '';
    this.pending += text;
    return this.release(false);
  }

  /** Ends the stream with the decoder's last text; returns everything still held back. */
  finish(tail = ''): string {
    if (this.stoppedBy !== null) return '';
    this.pending += tail;
    return this.release(true);
  }

  private release(final: boolean): string {
    const p = this.pending;
    if (this.stops.length === 0) {
      this.pending = '';
      return p;
    }
    let cut = -1;
    for (const s of this.stops) {
      const i = p.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) {
        cut = i;
        this.stoppedBy = s;
      }
    }
    if (cut >= 0) {
      this.pending = '';
      return p.slice(0, cut);
    }
    const hold = final ? 0 : this.heldBack(p);
    this.pending = p.slice(p.length - hold);
    return p.slice(0, p.length - hold);
  }

  /** Length of the longest suffix of p that is a proper prefix of some stop string. */
  private heldBack(p: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, p.length); n > best; n--) {
        if (p.endsWith(s.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
