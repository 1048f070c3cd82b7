/**
 * SentencePiece model files (`spiece.model`, `sentencepiece.bpe.model`, `tokenizer.model`): a
 * protobuf ModelProto, read here with a minimal wire-format reader (no protobuf dependency).
 * Fields used (sentencepiece_model.proto):
 *   ModelProto      1: repeated SentencePiece, 2: TrainerSpec, 3: NormalizerSpec
 *   SentencePiece   1: piece (string), 2: score (float), 3: type (enum, numbered as GGUF's token types)
 *   TrainerSpec     3: model_type (1 UNIGRAM, 2 BPE), 24: treat_whitespace_as_suffix, 35: byte_fallback,
 *                   40: unk_id, 41: bos_id, 42: eos_id, 43: pad_id
 *   NormalizerSpec  2: precompiled_charsmap (bytes), 3: add_dummy_prefix, 4: remove_extra_whitespaces,
 *                   5: escape_whitespaces (all default true)
 * Unigram models become a `Unigram` tokenizer with SentencePiece's own normalization.
 */
import { readFileSync } from 'node:fs';
import { PrecompiledCharsmap } from '../charsmap.js';
import { SentencePieceNormalizer, SentencePiecePreprocessor } from '../spm-normalizer.js';
import { VocabTokenizer } from '../tokenizer.js';
import { Unigram } from '../unigram.js';
import { TokenizerError, Vocab } from '../vocab.js';

/** One field of a protobuf message: varint value or length-delimited bytes or a fixed32. */
interface Field {
  num: number;
  wire: number;
  int: number;
  bytes: Uint8Array;
}

function* fields(buf: Uint8Array, label: string): Generator<Field> {
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) throw new TokenizerError(`${label}: truncated protobuf varint`);
      const b = buf[p++]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return v;
    }
    throw new TokenizerError(`${label}: protobuf varint longer than 10 bytes`);
  };
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  while (p < buf.length) {
    const key = varint();
    const num = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) yield { num, wire, int: varint(), bytes: new Uint8Array(0) };
    else if (wire === 2) {
      const len = varint();
      if (p + len > buf.length) throw new TokenizerError(`${label}: protobuf field ${num} runs past the end (${len} bytes at ${p})`);
      yield { num, wire, int: 0, bytes: buf.subarray(p, p + len) };
      p += len;
    } else if (wire === 5) {
      if (p + 4 > buf.length) throw new TokenizerError(`${label}: truncated protobuf fixed32`);
      yield { num, wire, int: view.getUint32(p, true), bytes: buf.subarray(p, p + 4) };
      p += 4;
    } else if (wire === 1) {
      if (p + 8 > buf.length) throw new TokenizerError(`${label}: truncated protobuf fixed64`);
      p += 8;
    } else throw new TokenizerError(`${label}: protobuf wire type ${wire} (field ${num}) is not supported`);
  }
}

const signed32 = (v: number) => (v > 0x7fffffff ? v - 2 ** 64 : v);

export interface SentencePieceModelProto {
  pieces: Array<{ piece: string; score: number; type: number }>;
  modelType: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  charsmap: Uint8Array;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export function parseSentencePieceModel(buf: Uint8Array, label = 'sentencepiece model'): SentencePieceModelProto {
  const text = new TextDecoder('utf-8', { fatal: true });
  const m: SentencePieceModelProto = {
    pieces: [], modelType: 1, byteFallback: false, treatWhitespaceAsSuffix: false, unkId: 0, bosId: 1, eosId: 2, padId: -1,
    charsmap: new Uint8Array(0), addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true,
  };
  for (const f of fields(buf, label)) {
    if (f.num === 1 && f.wire === 2) {
      const piece = { piece: '', score: 0, type: 1 };
      for (const g of fields(f.bytes, label)) {
        if (g.num === 1 && g.wire === 2) {
          try {
            piece.piece = text.decode(g.bytes);
          } catch {
            throw new TokenizerError(`${label}: piece ${m.pieces.length} is not valid UTF-8`);
          }
        } else if (g.num === 2 && g.wire === 5) piece.score = new DataView(g.bytes.buffer, g.bytes.byteOffset, 4).getFloat32(0, true);
        else if (g.num === 3 && g.wire === 0) piece.type = g.int;
      }
      m.pieces.push(piece);
    } else if (f.num === 2 && f.wire === 2) {
      for (const g of fields(f.bytes, label)) {
        if (g.wire !== 0) continue;
        if (g.num === 3) m.modelType = g.int;
        else if (g.num === 24) m.treatWhitespaceAsSuffix = g.int !== 0;
        else if (g.num === 35) m.byteFallback = g.int !== 0;
        else if (g.num === 40) m.unkId = signed32(g.int);
        else if (g.num === 41) m.bosId = signed32(g.int);
        else if (g.num === 42) m.eosId = signed32(g.int);
        else if (g.num === 43) m.padId = signed32(g.int);
      }
    } else if (f.num === 3 && f.wire === 2) {
      for (const g of fields(f.bytes, label)) {
        if (g.num === 2 && g.wire === 2) m.charsmap = g.bytes.slice();
        else if (g.wire === 0 && g.num === 3) m.addDummyPrefix = g.int !== 0;
        else if (g.wire === 0 && g.num === 4) m.removeExtraWhitespaces = g.int !== 0;
        else if (g.wire === 0 && g.num === 5) m.escapeWhitespaces = g.int !== 0;
      }
    }
  }
  if (m.pieces.length === 0) throw new TokenizerError(`${label}: no pieces (not a SentencePiece model?)`);
  return m;
}

/** A Unigram SentencePiece model as a tokenizer that encodes exactly as SentencePiece does. */
export function sentencePieceModelTokenizer(buf: Uint8Array, label = 'sentencepiece model'): VocabTokenizer {
  const m = parseSentencePieceModel(buf, label);
  if (m.modelType !== 1) throw new TokenizerError(`${label}: model_type ${m.modelType} is not supported (only Unigram, 1)`);
  for (const [i, p] of m.pieces.entries()) {
    if (!(p.type >= 1 && p.type <= 6)) throw new TokenizerError(`${label}: piece ${i} (${JSON.stringify(p.piece)}) has invalid type ${p.type}`);
  }
  const vocab = new Vocab(m.pieces.map((p) => p.piece), m.pieces.map((p) => p.type), m.pieces.map((p) => p.score));
  const normalizer = new SentencePieceNormalizer({
    charsmap: m.charsmap.length > 0 ? new PrecompiledCharsmap(m.charsmap) : null,
    addDummyPrefix: m.addDummyPrefix,
    removeExtraWhitespaces: m.removeExtraWhitespaces,
    escapeWhitespaces: m.escapeWhitespaces,
    treatWhitespaceAsSuffix: m.treatWhitespaceAsSuffix,
    style: 'sentencepiece',
  });
  const model = new Unigram(vocab, new SentencePiecePreprocessor(normalizer), { unkId: m.unkId, byteFallback: m.byteFallback, matchUnused: false });
  const id = (v: number) => (v >= 0 && v < vocab.size ? v : undefined);
  return new VocabTokenizer(vocab, model, { special: { unk: id(m.unkId), bos: id(m.bosId), eos: id(m.eosId), pad: id(m.padId) } });
}

export function loadSentencePieceModel(path: string): VocabTokenizer {
  return sentencePieceModelTokenizer(new Uint8Array(readFileSync(path)), path);
}
