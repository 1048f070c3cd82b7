/**
 * Pre-tokenizers for byte-level BPE: the regexes llama.cpp applies for each `tokenizer.ggml.pre`
 * name (llama-vocab.cpp), written in llama.cpp's own notation and translated once to JavaScript.
 *
 * Semantics, as in llama.cpp's unicode_regex_split:
 * - the regexes of a list run one after another; each splits every piece the previous ones made;
 * - text a regex does not match stays a piece of its own (gaps are never dropped);
 * - `\s` is Unicode White_Space (NOT JavaScript's `\s`, which counts U+FEFF and misses U+0085),
 *   `\p{L}`, `\p{N}`, `\p{P}`… are Unicode general categories.
 */
import { scanGpt2 } from './gpt2-scanner.js';
import { WHITE_SPACE_CLASS } from './unicode.js';

export const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** llama.cpp's spelling of the same regex (no final \s+: the gap it leaves is one white-space character either way). */
const GPT2_LLAMA_CPP = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const GPT4O =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const TEKKEN =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const BLOOM = " ?[^(\\s|.,!?…。，、।۔،)]+";

/** llama.cpp's regex lists by pre-tokenizer name (several names share one list). */
const PRE_TOKENIZERS: Record<string, readonly string[]> = {
  default: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'],
  'gpt-2': [GPT2],
  llama3: [LLAMA3],
  // NFC-sensitive range ends are escaped (\u1F7D, \u1FBE, \u1FD3, \u1FDB, \u2126, \u212A): normalising
  // editors turn them into their Greek/Latin equivalents, which would put the ranges out of order.
  'deepseek-llm': [
    '[\r\n]',
    '\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1F7Dᾀ-ᾴᾶ-ᾼ\u1FBEῂ-ῄῆ-ῌῐ-\u1FD3ῖ-\u1FDBῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212A-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+',
    '\\s?[!-/:-~！-／：-～‘-‟　-。]+',
    '\\s+$',
    '[一-龥ࠀ-一가-퟿]+',
    '\\p{N}+',
  ],
  'deepseek-coder': ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'],
  'deepseek-v3': ['\\p{N}{1,3}', '[一-龥぀-ゟ゠-ヿ]+', "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"],
  falcon: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2, '[0-9][0-9][0-9]'],
  starcoder: ['\\p{N}', GPT2],
  qwen2: [QWEN2],
  'gpt-4o': [GPT4O],
  tekken: [TEKKEN],
  bloom: [BLOOM],
  viking: [BLOOM, '\\p{N}'],
};

/** Other names llama.cpp accepts for the same lists. */
const ALIASES: Record<string, string> = {
  'llama-bpe': 'llama3', 'llama-v3': 'llama3', falcon3: 'llama3', dbrx: 'llama3', 'smaug-bpe': 'llama3',
  'chatglm-bpe': 'llama3', 'pixtral': 'tekken',
  mpt: 'gpt-2', olmo: 'gpt-2', jais: 'gpt-2', 'phi-2': 'gpt-2', 'jina-es': 'gpt-2', 'jina-de': 'gpt-2',
  'jina-v1-en': 'gpt-2', 'jina-v2-es': 'gpt-2', 'jina-v2-de': 'gpt-2', 'jina-v2-code': 'gpt-2',
  'roberta-bpe': 'gpt-2', gpt2: 'gpt-2',
  refact: 'starcoder', 'command-r': 'starcoder', smollm: 'starcoder', codeshell: 'starcoder',
  exaone: 'starcoder', 'minerva-7b': 'starcoder',
  stablelm2: 'qwen2', hunyuan: 'qwen2',
  'poro-chat': 'bloom', 'gpt3-finnish': 'bloom',
};

export function preTokenizerNames(): string[] {
  return [...Object.keys(PRE_TOKENIZERS), ...Object.keys(ALIASES)].sort();
}

/**
 * Translates llama.cpp regex notation to a JavaScript `u` regex: `\s` → Unicode White_Space,
 * `\S` → its complement, everything else (\p{..}, classes, lookahead) is already valid JS.
 */
export function translateRegex(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\' && i + 1 < source.length) {
      const n = source[i + 1]!;
      i++;
      if (n === 's') out += inClass ? WHITE_SPACE_CLASS : `[${WHITE_SPACE_CLASS}]`;
      else if (n === 'S') {
        if (inClass) throw new Error(`pre-tokenizer regex: \\S inside a character class is not supported: ${source}`);
        out += `[^${WHITE_SPACE_CLASS}]`;
      } else out += '\\' + n;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

type Step = (text: string, emit: (piece: string) => void) => void;

/** Splits text into pieces with a list of regexes applied in sequence (see the file comment). */
export class RegexPreTokenizer {
  readonly name: string;
  /** The regexes in llama.cpp notation (what tokenizer.json's Split patterns hold too). */
  readonly sources: readonly string[];
  private readonly steps: Step[];

  /** `useScanner: false` forces V8's regex engine for GPT-2's pattern too (tests compare the two). */
  constructor(name: string, sources: readonly string[], useScanner = true) {
    this.name = name;
    this.sources = sources;
    this.steps = sources.map((s): Step => {
      if (useScanner && (s === GPT2 || s === GPT2_LLAMA_CPP)) return scanGpt2;
      // (?i:...) groups (gpt-4o) are not JavaScript syntax before Node 23: expand them by hand.
      const expanded = s.replace(/\(\?i:([^)]*)\)/g, (_m, body: string) =>
        '(?:' + body.replace(/[a-z]/g, (ch) => `[${ch}${ch.toUpperCase()}]`) + ')',
      );
      const re = new RegExp(translateRegex(expanded), 'gu');
      return (text, emit) => splitOne(re, text, emit);
    });
  }

  /** Calls `emit` with each piece in order; pieces are never empty. */
  split(text: string, emit: (piece: string) => void): void {
    if (text.length === 0) return;
    const [first, ...rest] = this.steps;
    if (rest.length === 0) {
      first!(text, emit);
      return;
    }
    let pieces: string[] = [];
    first!(text, (p) => pieces.push(p));
    for (const step of rest) {
      const next: string[] = [];
      const push = (p: string) => next.push(p);
      for (const p of pieces) step(p, push);
      pieces = next;
    }
    for (const p of pieces) emit(p);
  }
}

function splitOne(re: RegExp, text: string, emit: (piece: string) => void): void {
  re.lastIndex = 0;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const start = m.index;
    const piece = m[0];
    if (piece.length === 0) {
      // an empty match (none of llama.cpp's lists make one, but a custom regex could): step on
      re.lastIndex = start + 1;
      continue;
    }
    if (start > last) emit(text.slice(last, start));
    emit(piece);
    last = start + piece.length;
  }
  if (last < text.length) emit(text.slice(last));
}

/** The pre-tokenizer llama.cpp uses for `tokenizer.ggml.pre = name`; throws for unknown names. */
export function preTokenizerFor(name: string): RegexPreTokenizer {
  const key = PRE_TOKENIZERS[name] ? name : ALIASES[name];
  const sources = key ? PRE_TOKENIZERS[key] : undefined;
  if (!sources) {
    throw new Error(`unknown BPE pre-tokenizer '${name}'; known: ${preTokenizerNames().join(', ')}`);
  }
  return new RegexPreTokenizer(name, sources);
}

/** A pre-tokenizer from custom regex sources (llama.cpp notation), e.g. from a tokenizer.json. */
export function customPreTokenizer(name: string, sources: readonly string[]): RegexPreTokenizer {
  return new RegexPreTokenizer(name, sources);
}
