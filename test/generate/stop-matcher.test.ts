/**
 * StopMatcher against the obvious reference: after each chunk, look at all the text so far; the
 * first time any stop string occurs, cut at its earliest occurrence (generation stops there, so a
 * stop string that would only complete later never does).
 */
import { describe, expect, it } from 'vitest';
import { StopMatcher } from '../../ts/generate/stop-matcher.js';
import { Rng } from '../../ts/generate/rng.js';

function reference(chunks: string[], stops: string[]): { text: string; stop: string | null } {
  let text = '';
  for (const c of chunks) {
    text += c;
    const r = firstStop(text, stops);
    if (r.stop !== null) return r;
  }
  return { text, stop: null };
}

function firstStop(text: string, stops: string[]): { text: string; stop: string | null } {
  let cut = -1;
  let stop: string | null = null;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (cut < 0 || i < cut)) {
      cut = i;
      stop = s;
    }
  }
  return cut < 0 ? { text, stop: null } : { text: text.slice(0, cut), stop };
}

function run(chunks: string[], stops: string[]): { text: string; stop: string | null; emitted: string[] } {
  const m = new StopMatcher(stops);
  const emitted: string[] = [];
  for (const c of chunks) {
    emitted.push(m.push(c));
    if (m.stoppedBy !== null) break;
  }
  emitted.push(m.finish());
  return { text: emitted.join(''), stop: m.stoppedBy, emitted };
}

describe('StopMatcher', () => {
  it('matches the reference for random texts, stop strings and chunkings', () => {
    const r = new Rng(5);
    const alphabet = 'ab\nXé😀';
    const pick = (n: number) => Array.from({ length: n }, () => [...alphabet][Math.floor(r.next() * [...alphabet].length)]).join('');
    for (let trial = 0; trial < 2000; trial++) {
      const text = pick(1 + Math.floor(r.next() * 30));
      const stops = Array.from({ length: Math.floor(r.next() * 3) }, () => pick(1 + Math.floor(r.next() * 4)));
      const chunks: string[] = [];
      for (let i = 0; i < text.length; ) {
        const n = 1 + Math.floor(r.next() * 4);
        chunks.push(text.slice(i, i + n));
        i += n;
      }
      const got = run(chunks, stops);
      const want = reference(chunks, stops);
      expect(got.text, JSON.stringify({ text, stops, chunks })).toBe(want.text);
      expect(got.stop).toBe(want.stop);
    }
  });

  it('never emits text that later turns out to be part of a stop string', () => {
    const got = run(['Hello', ' wor', 'ld', '\n\nUser', ':'], ['\n\nUser:']);
    expect(got.text).toBe('Hello world');
    expect(got.emitted.slice(0, 3).join('')).toBe('Hello world');
    expect(got.stop).toBe('\n\nUser:');
  });

  it('releases held-back text when the stop string does not complete', () => {
    const got = run(['abc\n', '\nX'], ['\n\nUser:']);
    expect(got.text).toBe('abc\n\nX');
    expect(got.stop).toBeNull();
  });
});
