/**
 * The normalizer + pre-tokenizer chain of a Hugging Face tokenizer.json with a Unigram model, as
 * Hugging Face tokenizers runs it (its converted SentencePiece models: XLM-RoBERTa, T5, mBART):
 *
 *   normalizers, in order: Precompiled (the charsmap applied per grapheme cluster, see below),
 *     Strip, Replace (string or regex), Prepend, NFC/NFD/NFKC/NFKD, Lowercase;
 *   pre-tokenizers WhitespaceSplit (words split at white space, which is dropped; T5) and/or
 *   Metaspace: spaces become the replacement ("▁"), one is prepended unless the text
 *     already starts with it ('always', or 'first' for the start of the text only), and with
 *     `split` the text is cut before each "▁" into words segmented one by one.
 *
 * Hugging Face's Precompiled does not use the longest rule as SentencePiece does: for a grapheme
 * cluster shorter than 6 bytes, the FIRST (shortest) rule matching its start replaces the whole
 * cluster; otherwise each character is replaced by its first rule, or kept.
 */
import { PrecompiledCharsmap } from './charsmap.js';
import type { UnigramPreprocessor } from './unigram.js';
import { utf8Decode, utf8Encode, WHITE_SPACE_CLASS } from './unicode.js';
import { TokenizerError } from './vocab.js';

type Json = Record<string, unknown>;
type Step = (s: string) => string;

const LEADING_WS = new RegExp(`^[${WHITE_SPACE_CLASS}]+`, 'u');
const TRAILING_WS = new RegExp(`[${WHITE_SPACE_CLASS}]+$`, 'u');
const WS_RUN = new RegExp(`[${WHITE_SPACE_CLASS}]+`, 'u');

function precompiledStep(map: PrecompiledCharsmap): Step {
  const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  const firstRule = (s: string): string | undefined => {
    const b = utf8Encode(s);
    const m = map.prefixMatches(b, 0, b.length)[0];
    return m ? utf8Decode(map.replacement(m.replacement)) : undefined;
  };
  return (text) => {
    let out = '';
    for (const { segment: g } of segmenter.segment(text)) {
      if (utf8Encode(g).length < 6) {
        const r = firstRule(g);
        if (r !== undefined) {
          out += r;
          continue;
        }
      }
      for (const ch of g) out += firstRule(ch) ?? ch;
    }
    return out;
  };
}

function normalizerStep(n: Json, label: string): Step {
  switch (n.type) {
    case 'Precompiled': {
      if (typeof n.precompiled_charsmap !== 'string') throw new TokenizerError(`${label}: Precompiled normalizer without a precompiled_charsmap string`);
      if (n.precompiled_charsmap === '') return (s) => s;
      return precompiledStep(new PrecompiledCharsmap(new Uint8Array(Buffer.from(n.precompiled_charsmap, 'base64'))));
    }
    case 'Strip': {
      const left = n.strip_left !== false;
      const right = n.strip_right !== false;
      return (s) => {
        let r = left ? s.replace(LEADING_WS, '') : s;
        if (right) r = r.replace(TRAILING_WS, '');
        return r;
      };
    }
    case 'Replace': {
      const p = n.pattern as Json | undefined;
      const content = typeof n.content === 'string' ? n.content : '';
      if (p && typeof p.String === 'string') {
        const from = p.String;
        return (s) => (from === '' ? s : s.replaceAll(from, content));
      }
      if (p && typeof p.Regex === 'string') {
        let re: RegExp;
        try {
          re = new RegExp(p.Regex, 'gu');
        } catch (err) {
          throw new TokenizerError(`${label}: Replace regex ${JSON.stringify(p.Regex)} is not supported: ${(err as Error).message}`);
        }
        return (s) => s.replace(re, () => content);
      }
      throw new TokenizerError(`${label}: Replace normalizer without a String or Regex pattern`);
    }
    case 'Prepend': {
      const pre = typeof n.prepend === 'string' ? n.prepend : '';
      return (s) => (s.length > 0 ? pre + s : s);
    }
    case 'NFC':
    case 'NFD':
    case 'NFKC':
    case 'NFKD': {
      const form = n.type;
      return (s) => s.normalize(form);
    }
    case 'Lowercase':
      return (s) => s.toLowerCase();
    default:
      throw new TokenizerError(`${label}: normalizer '${String(n.type)}' is not supported for Unigram (Precompiled, Strip, Replace, Prepend, NFC/NFD/NFKC/NFKD, Lowercase)`);
  }
}

export class HFUnigramPipeline implements UnigramPreprocessor {
  readonly addsPrefixSpace: boolean;
  private readonly steps: Step[];
  private readonly replacement: string;
  private readonly prepend: 'always' | 'first' | 'never';
  private readonly splitWords: boolean;
  private readonly metaspace: boolean;

  private readonly whitespaceSplit: boolean;

  /**
   * @param normalizers the flattened normalizer list; @param metaspace the Metaspace pre-tokenizer,
   * if any; @param whitespaceSplit a WhitespaceSplit runs before it.
   */
  constructor(normalizers: Json[], metaspace: Json | undefined, label: string, whitespaceSplit = false) {
    this.whitespaceSplit = whitespaceSplit;
    this.steps = normalizers.map((n) => normalizerStep(n, label));
    this.replacement = metaspace && typeof metaspace.replacement === 'string' ? metaspace.replacement : '\u2581';
    if (!metaspace) this.prepend = 'never';
    else if (metaspace.prepend_scheme === 'always' || metaspace.prepend_scheme === 'first' || metaspace.prepend_scheme === 'never') this.prepend = metaspace.prepend_scheme;
    else this.prepend = metaspace.add_prefix_space === false ? 'never' : 'always';
    this.splitWords = metaspace !== undefined && metaspace.split !== false;
    this.metaspace = metaspace !== undefined;
    this.addsPrefixSpace = this.prepend !== 'never';
    if (this.replacement.length === 0) throw new TokenizerError(`${label}: Metaspace replacement is empty`);
  }

  split(text: string, _afterSpecial: boolean, atStart: boolean): Uint8Array[] {
    let s = text;
    for (const step of this.steps) s = step(s);
    if (s.length === 0) return []; // nothing to prepend "▁" to
    if (this.whitespaceSplit) {
      const startsWithWord = !new RegExp(`^[${WHITE_SPACE_CLASS}]`, 'u').test(s);
      return s
        .split(WS_RUN)
        .filter((w) => w.length > 0)
        .flatMap((w, i) => this.metaspaceWords(w, atStart && startsWithWord && i === 0));
    }
    return this.metaspaceWords(s, atStart);
  }

  private metaspaceWords(word: string, atStart: boolean): Uint8Array[] {
    let s = word;
    if (this.metaspace) {
      s = s.replaceAll(' ', this.replacement);
      if ((this.prepend === 'always' || (this.prepend === 'first' && atStart)) && !s.startsWith(this.replacement)) s = this.replacement + s;
    }
    if (s.length === 0) return [];
    if (!this.splitWords) return [utf8Encode(s)];
    const words: Uint8Array[] = [];
    let start = 0;
    for (let i = s.indexOf(this.replacement, 1); i > 0; i = s.indexOf(this.replacement, i + 1)) {
      words.push(utf8Encode(s.slice(start, i)));
      start = i;
    }
    words.push(utf8Encode(s.slice(start)));
    return words;
  }
}
