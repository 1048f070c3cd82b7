/**
 * Hugging Face tokenizer.json (+ tokenizer_config.json next to it for BOS/EOS and add_bos/add_eos).
 *
 * Supported, mapped onto our three families:
 * - BPE with a ByteLevel pre-tokenizer/decoder → byte-level BPE. Split(Regex, Isolated), Digits,
 *   Punctuation and ByteLevel(use_regex) pre-tokenizers become our regex pre-tokenizer list.
 * - BPE with byte_fallback / Metaspace / a "▁" normalizer (Llama, Mistral) → SentencePiece-style BPE;
 *   the merge ranks become scores (a token's score is minus the rank of its first merge), which
 *   gives the same result whenever each merged token has one way to be made, as in converted
 *   SentencePiece models.
 * - WordPiece with BertNormalizer/BertPreTokenizer.
 * - Unigram (converted SentencePiece models: XLM-RoBERTa, T5) with its normalizers and Metaspace
 *   run as Hugging Face runs them (hf-unigram-pipeline.ts).
 * Other models get a clear error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ByteLevelBPE } from '../bpe.js';
import { customPreTokenizer, preTokenizerFor, type RegexPreTokenizer } from '../pretokenizers.js';
import { SentencePieceBPE, SPIECE_SPACE } from '../spm.js';
import { VocabTokenizer } from '../tokenizer.js';
import { HFUnigramPipeline } from '../hf-unigram-pipeline.js';
import { Unigram } from '../unigram.js';
import { TokenizerError, TokenType, Vocab, type SpecialIds } from '../vocab.js';
import { WordPiece } from '../wordpiece.js';

type Json = Record<string, unknown>;

const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

function obj(v: unknown): Json | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

/** Flattens Sequence wrappers: [{type: ...}, ...]. */
function flatten(node: unknown, key: 'pretokenizers' | 'normalizers' | 'decoders'): Json[] {
  const o = obj(node);
  if (!o) return [];
  if (o.type === 'Sequence' && Array.isArray(o[key])) return (o[key] as unknown[]).flatMap((n) => flatten(n, key));
  return [o];
}

function tokenContent(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  const o = obj(v);
  return o && typeof o.content === 'string' ? o.content : undefined;
}

/** Regex sources (llama.cpp notation) for a Hugging Face pre-tokenizer chain. */
function preTokenizerSources(steps: Json[], label: string): string[] {
  const out: string[] = [];
  for (const s of steps) {
    switch (s.type) {
      case 'ByteLevel':
        if (s.use_regex !== false) out.push(GPT2_REGEX);
        break;
      case 'Split': {
        const pattern = obj(s.pattern);
        const behavior = s.behavior ?? 'Isolated';
        if (behavior !== 'Isolated' || s.invert === true) throw new TokenizerError(`${label}: Split behavior '${String(behavior)}'${s.invert ? ' (inverted)' : ''} is not supported (only Isolated)`);
        if (pattern && typeof pattern.Regex === 'string') out.push(pattern.Regex);
        else if (pattern && typeof pattern.String === 'string') out.push(pattern.String.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
        else throw new TokenizerError(`${label}: Split pre-tokenizer without a pattern`);
        break;
      }
      case 'Digits':
        out.push(s.individual_digits ? '\\p{N}' : '\\p{N}+');
        break;
      case 'Punctuation':
        out.push('[\\p{P}!-/:-@\\[-`{-~]+');
        break;
      default:
        throw new TokenizerError(`${label}: pre-tokenizer '${String(s.type)}' is not supported for byte-level BPE`);
    }
  }
  return out;
}

function readConfig(path: string): Json {
  const cfgPath = join(dirname(path), 'tokenizer_config.json');
  if (!existsSync(cfgPath)) return {};
  try {
    return obj(JSON.parse(readFileSync(cfgPath, 'utf8'))) ?? {};
  } catch (err) {
    throw new TokenizerError(`'${cfgPath}' is not valid JSON: ${(err as Error).message}`);
  }
}

export function loadHFTokenizer(path: string, json?: Json): VocabTokenizer {
  const doc = json ?? (JSON.parse(readFileSync(path, 'utf8')) as Json);
  return tokenizerFromHFJson(doc, readConfig(path), path);
}

export function tokenizerFromHFJson(doc: Json, config: Json = {}, label = 'tokenizer.json'): VocabTokenizer {
  const model = obj(doc.model);
  if (!model) throw new TokenizerError(`${label}: no "model" object`);
  const type = model.type ?? (model.merges ? 'BPE' : undefined);
  if (type === 'Unigram') return unigramFromHFJson(doc, model, config, label);
  const vocabMap = obj(model.vocab);
  if (type !== 'BPE' && type !== 'WordPiece') throw new TokenizerError(`${label}: tokenizer model '${String(type)}' is not supported (BPE, WordPiece, Unigram)`);
  if (!vocabMap) throw new TokenizerError(`${label}: model.vocab must be a {token: id} object`);

  // dense token list from the vocab plus added tokens
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(vocabMap)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 1 << 24) throw new TokenizerError(`${label}: token ${JSON.stringify(tok)} has invalid id ${JSON.stringify(id)}`);
    if (byId.has(id)) throw new TokenizerError(`${label}: id ${id} is used by both ${JSON.stringify(byId.get(id))} and ${JSON.stringify(tok)}`);
    byId.set(id, tok);
  }
  const added = Array.isArray(doc.added_tokens) ? (doc.added_tokens as unknown[]).map(obj).filter((x): x is Json => !!x) : [];
  const addedType = new Map<number, number>();
  for (const a of added) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string') throw new TokenizerError(`${label}: added token ${JSON.stringify(a).slice(0, 200)} needs an id and content`);
    if (!Number.isInteger(a.id) || a.id < 0 || a.id > 1 << 24) throw new TokenizerError(`${label}: added token ${JSON.stringify(a.content.slice(0, 80))} has invalid id ${a.id}`);
    byId.set(a.id, a.content);
    addedType.set(a.id, a.special ? TokenType.CONTROL : TokenType.USER_DEFINED);
  }
  if (byId.size === 0) throw new TokenizerError(`${label}: the vocabulary is empty`);
  let size = 0;
  for (const id of byId.keys()) size = Math.max(size, id + 1); // (no spread: a big vocabulary would overflow the call stack)
  // Gaps become unused tokens; a lone id far past the others would make millions of them (fuzz: 34 s to load 6 KB).
  if (size > 2 * byId.size + 1024) throw new TokenizerError(`${label}: token ids go up to ${size - 1} but only ${byId.size} tokens are defined`);
  const tokens: string[] = new Array(size);
  const types = new Uint8Array(size).fill(TokenType.NORMAL);
  for (let i = 0; i < size; i++) {
    const t = byId.get(i);
    // a gap in the ids: an unused empty token that nothing can produce
    tokens[i] = t ?? '';
    if (t === undefined) types[i] = TokenType.UNUSED;
  }
  for (const [id, t] of addedType) types[id] = t;

  const unkTok = typeof model.unk_token === 'string' ? model.unk_token : tokenContent(config.unk_token);
  const unkId = unkTok !== undefined ? tokens.indexOf(unkTok) : -1;
  if (unkId >= 0 && !addedType.has(unkId)) types[unkId] = TokenType.UNKNOWN;

  const special: SpecialIds = {};
  const idOf = (v: unknown) => {
    const c = tokenContent(v);
    const i = c === undefined ? -1 : tokens.indexOf(c);
    return i >= 0 ? i : undefined;
  };
  special.bos = idOf(config.bos_token);
  special.eos = idOf(config.eos_token);
  special.pad = idOf(config.pad_token);
  special.unk = unkId >= 0 ? unkId : undefined;

  // BOS/EOS: tokenizer_config's flags win, else the post-processor's template
  let addBos = typeof config.add_bos_token === 'boolean' ? config.add_bos_token : false;
  let addEos = typeof config.add_eos_token === 'boolean' ? config.add_eos_token : false;
  const post = obj(doc.post_processor);
  const template = post && post.type === 'TemplateProcessing' && Array.isArray(post.single) ? (post.single as unknown[]).map(obj) : undefined;
  if (template && typeof config.add_bos_token !== 'boolean') {
    const first = obj(template[0]?.SpecialToken);
    if (first && typeof first.id === 'string') {
      addBos = true;
      special.bos ??= tokens.indexOf(first.id) >= 0 ? tokens.indexOf(first.id) : undefined;
    }
    const last = obj(template[template.length - 1]?.SpecialToken);
    if (last && typeof last.id === 'string' && template.length > 1 && typeof config.add_eos_token !== 'boolean') {
      addEos = true;
      special.eos ??= tokens.indexOf(last.id) >= 0 ? tokens.indexOf(last.id) : undefined;
    }
  }

  if (type === 'WordPiece') {
    const norm = flatten(doc.normalizer, 'normalizers').find((n) => n.type === 'BertNormalizer');
    const vocab = new Vocab(tokens, types);
    if (unkId < 0) throw new TokenizerError(`${label}: WordPiece needs an unk_token that is in the vocabulary`);
    special.cls = vocab.id('[CLS]');
    special.sep = vocab.id('[SEP]');
    special.mask = vocab.id('[MASK]');
    const lowercase = norm ? norm.lowercase !== false : false;
    const wp = new WordPiece(vocab, {
      unkId,
      lowercase,
      stripAccents: norm && typeof norm.strip_accents === 'boolean' ? norm.strip_accents : lowercase,
      handleChineseChars: norm ? norm.handle_chinese_chars !== false : false,
      continuingSubwordPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : '##',
      maxInputCharsPerWord: typeof model.max_input_chars_per_word === 'number' ? model.max_input_chars_per_word : 100,
    });
    return new VocabTokenizer(vocab, wp, { special });
  }

  const merges = Array.isArray(model.merges) ? (model.merges as unknown[]) : [];
  const pairs: Array<[string, string]> = merges.map((m, i) => {
    if (typeof m === 'string') {
      const sp = m.indexOf(' ', 1);
      if (sp < 0) throw new TokenizerError(`${label}: merge ${i} (${JSON.stringify(m)}) is not "left right"`);
      return [m.slice(0, sp), m.slice(sp + 1)];
    }
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new TokenizerError(`${label}: merge ${i} is neither "left right" nor [left, right]`);
  });
  const preSteps = flatten(doc.pre_tokenizer, 'pretokenizers');
  const decoders = flatten(doc.decoder, 'decoders');
  const byteLevel = preSteps.some((s) => s.type === 'ByteLevel') || decoders.some((d) => d.type === 'ByteLevel');

  if (byteLevel) {
    const vocab = new Vocab(tokens, types);
    const sources = preTokenizerSources(preSteps, label);
    const pre: RegexPreTokenizer = sources.length ? customPreTokenizer('tokenizer.json', sources) : preTokenizerFor('gpt-2');
    const bpe = new ByteLevelBPE(vocab, { merges: pairs, preTokenizer: pre, ignoreMerges: model.ignore_merges === true, unkId: special.unk });
    return new VocabTokenizer(vocab, bpe, { special, addBos, addEos });
  }

  // SentencePiece-style: byte fallback tokens, "▁" for spaces
  const normalizers = flatten(doc.normalizer, 'normalizers');
  const metaspace = preSteps.find((s) => s.type === 'Metaspace');
  const prepends =
    normalizers.some((n) => n.type === 'Prepend' && n.prepend === SPIECE_SPACE) ||
    (metaspace !== undefined && (metaspace.prepend_scheme === 'always' || metaspace.prepend_scheme === 'first' || metaspace.add_prefix_space === true));
  const usesSpiece = metaspace !== undefined || normalizers.some((n) => n.type === 'Replace' && n.content === SPIECE_SPACE) || model.byte_fallback === true;
  if (!usesSpiece) throw new TokenizerError(`${label}: BPE without a ByteLevel or Metaspace/▁ setup is not supported`);
  if (model.byte_fallback === true) {
    for (let i = 0; i < size; i++) if (types[i] === TokenType.NORMAL && /^<0x[0-9A-F]{2}>$/.test(tokens[i]!)) types[i] = TokenType.BYTE;
  }
  const scores = new Float32Array(size).fill(-1e9);
  const vocab0 = new Vocab(tokens, types);
  pairs.forEach(([l, r], rank) => {
    const id = vocab0.id(l + r);
    if (id === undefined || vocab0.id(l) === undefined || vocab0.id(r) === undefined) {
      throw new TokenizerError(`${label}: merge ${rank} (${JSON.stringify(l)} ${JSON.stringify(r)}) names a token that is not in the vocabulary`);
    }
    if (scores[id] === -1e9) scores[id] = -rank;
  });
  const vocab = new Vocab(tokens, types, scores);
  const spm = new SentencePieceBPE(vocab, { addSpacePrefix: prepends, unkId: special.unk });
  return new VocabTokenizer(vocab, spm, { special, addBos, addEos });
}

/** tokenizer.json with `model.type` Unigram: vocab is [[piece, score], …] in id order. */
function unigramFromHFJson(doc: Json, model: Json, config: Json, label: string): VocabTokenizer {
  if (!Array.isArray(model.vocab) || model.vocab.length === 0) throw new TokenizerError(`${label}: Unigram model.vocab must be a non-empty [[piece, score], …] array`);
  const entries = model.vocab as unknown[];
  const tokens: string[] = new Array(entries.length);
  const scores = new Float32Array(entries.length);
  entries.forEach((e, i) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number' || !Number.isFinite(e[1])) {
      throw new TokenizerError(`${label}: Unigram vocab entry ${i} should be [piece, score], got ${JSON.stringify(e)}`);
    }
    tokens[i] = e[0];
    scores[i] = e[1];
  });
  const types = new Uint8Array(tokens.length).fill(TokenType.NORMAL);
  const byteFallback = model.byte_fallback === true;
  if (byteFallback) for (let i = 0; i < tokens.length; i++) if (/^<0x[0-9A-F]{2}>$/.test(tokens[i]!)) types[i] = TokenType.BYTE;
  const added = Array.isArray(doc.added_tokens) ? (doc.added_tokens as unknown[]).map(obj).filter((x): x is Json => !!x) : [];
  for (const a of added) {
    if (typeof a.id !== 'number' || typeof a.content !== 'string' || !Number.isInteger(a.id) || a.id < 0) throw new TokenizerError(`${label}: added token ${JSON.stringify(a)} needs an id and content`);
    if (a.id >= tokens.length) throw new TokenizerError(`${label}: added token ${JSON.stringify(a.content)} has id ${a.id} outside the Unigram vocabulary of ${tokens.length}`);
    tokens[a.id] = a.content;
    types[a.id] = a.special ? TokenType.CONTROL : TokenType.USER_DEFINED;
  }
  const unkId = typeof model.unk_id === 'number' ? model.unk_id : undefined;
  if (unkId === undefined || !Number.isInteger(unkId) || unkId < 0 || unkId >= tokens.length) throw new TokenizerError(`${label}: Unigram model needs an unk_id inside the vocabulary, got ${JSON.stringify(model.unk_id)}`);
  types[unkId] = TokenType.UNKNOWN;
  const vocab = new Vocab(tokens, types, scores);
  const normalizers = flatten(doc.normalizer, 'normalizers');
  const preSteps = flatten(doc.pre_tokenizer, 'pretokenizers');
  const unsupported = preSteps.find((s) => s.type !== 'Metaspace' && s.type !== 'WhitespaceSplit');
  if (unsupported) throw new TokenizerError(`${label}: pre-tokenizer '${String(unsupported.type)}' is not supported for Unigram (Metaspace, WhitespaceSplit)`);
  const pipeline = new HFUnigramPipeline(normalizers, preSteps.find((s) => s.type === 'Metaspace'), label, preSteps.some((s) => s.type === 'WhitespaceSplit'));
  // Hugging Face's Unigram: UNK scores min(all scores) − 10
  let min = Infinity;
  for (const v of scores) min = Math.min(min, v);
  const unigram = new Unigram(vocab, pipeline, { unkId, byteFallback, matchUnused: true, unkScore: min - 10 });

  const idOf = (v: unknown) => {
    const c = tokenContent(v);
    const i = c === undefined ? undefined : vocab.id(c);
    return i;
  };
  const special: SpecialIds = { unk: unkId, bos: idOf(config.bos_token), eos: idOf(config.eos_token), pad: idOf(config.pad_token), cls: idOf(config.cls_token), sep: idOf(config.sep_token), mask: idOf(config.mask_token) };
  // BOS/EOS from the post-processor's single template (XLM-R: <s> $A </s>; T5: $A </s>)
  let addBos = false;
  let addEos = false;
  const post = obj(doc.post_processor);
  const template = post && post.type === 'TemplateProcessing' && Array.isArray(post.single) ? (post.single as unknown[]).map(obj) : undefined;
  if (template && template.length > 0) {
    const first = obj(template[0]?.SpecialToken);
    if (first && typeof first.id === 'string' && vocab.id(first.id) !== undefined) {
      addBos = true;
      special.bos = vocab.id(first.id);
    }
    const last = obj(template[template.length - 1]?.SpecialToken);
    if (last && typeof last.id === 'string' && vocab.id(last.id) !== undefined && (template.length > 1 || !first)) {
      addEos = true;
      special.eos = vocab.id(last.id);
    }
  } else if (post && post.type === 'RobertaProcessing') {
    const cls = Array.isArray(post.cls) && typeof post.cls[0] === 'string' ? vocab.id(post.cls[0]) : undefined;
    const sep = Array.isArray(post.sep) && typeof post.sep[0] === 'string' ? vocab.id(post.sep[0]) : undefined;
    if (cls !== undefined && sep !== undefined) {
      addBos = addEos = true;
      special.bos = special.cls = cls;
      special.eos = special.sep = sep;
    }
  }
  return new VocabTokenizer(vocab, unigram, { special, addBos, addEos });
}
