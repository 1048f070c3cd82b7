/**
 * SentencePiece's precompiled character map (NormalizerSpec.precompiled_charsmap, GGUF
 * `tokenizer.ggml.precompiled_charsmap`, tokenizer.json's `Precompiled` normalizer): the
 * normalization rules (NFKC and friends) compiled into one blob:
 *
 *   u32 LE trie_size | trie_size bytes: a Darts-clone double-array trie over UTF-8 bytes |
 *   the replacement strings, each NUL-terminated; a trie key's value is its string's offset.
 *
 * Each trie unit is one u32: bits 0-7 the label (bit 31 set on value units, so they never match
 * a byte), bit 8 "has a leaf" (a key ends here; its value sits in the unit at base ^ 0), bits 10-30
 * the base, shifted left by 8 when bit 9 is set. From node p, byte c leads to p ^ base(p) ^ c when
 * that unit's label is c.
 */
import { TokenizerError } from './vocab.js';

export interface CharsmapMatch {
  /** Bytes of input the rule consumed (0: no rule matches here). */
  length: number;
  /** Offset of the NUL-terminated replacement in the strings blob. */
  replacement: number;
}

export class PrecompiledCharsmap {
  private readonly units: Uint32Array;
  /** The NUL-terminated replacement strings, as UTF-8 bytes. */
  readonly strings: Uint8Array;
  private readonly decoded = new Map<number, Uint8Array>();

  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new TokenizerError(`precompiled charsmap is ${blob.length} bytes, too short for its header`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieSize = view.getUint32(0, true);
    if (trieSize % 4 !== 0 || 4 + trieSize > blob.length) {
      throw new TokenizerError(`precompiled charsmap: trie of ${trieSize} bytes does not fit in a ${blob.length}-byte blob`);
    }
    this.units = new Uint32Array(trieSize / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.strings = blob.slice(4 + trieSize);
    if (this.units.length === 0) throw new TokenizerError('precompiled charsmap: the trie is empty');
  }

  private unit(i: number): number {
    if (i >= this.units.length) throw new TokenizerError(`precompiled charsmap: trie index ${i} is out of bounds (${this.units.length} units)`);
    return this.units[i]!;
  }

  private static base(u: number): number {
    return (u >>> 10) << ((u & 0x200) >>> 6);
  }

  /**
   * The longest rule that matches bytes[pos..end) at its start (SentencePiece's longest
   * common-prefix result); a NUL byte ends the search.
   */
  longestMatch(bytes: Uint8Array, pos: number, end: number): CharsmapMatch {
    let best = 0;
    let value = 0;
    let node = PrecompiledCharsmap.base(this.unit(0));
    for (let i = pos; i < end; i++) {
      const c = bytes[i]!;
      if (c === 0) break;
      node ^= c;
      const u = this.unit(node);
      if ((u & 0x800000ff) !== c) break;
      node ^= PrecompiledCharsmap.base(u);
      if (u & 0x100) {
        best = i - pos + 1;
        value = this.unit(node) & 0x7fffffff;
      }
    }
    return { length: best, replacement: value };
  }

  /** All matches of bytes[pos..end) prefixes, shortest first (Hugging Face uses the first one). */
  prefixMatches(bytes: Uint8Array, pos: number, end: number): CharsmapMatch[] {
    const out: CharsmapMatch[] = [];
    let node = PrecompiledCharsmap.base(this.unit(0));
    for (let i = pos; i < end; i++) {
      const c = bytes[i]!;
      if (c === 0) break;
      node ^= c;
      const u = this.unit(node);
      if ((u & 0x800000ff) !== c) break;
      node ^= PrecompiledCharsmap.base(u);
      if (u & 0x100) out.push({ length: i - pos + 1, replacement: this.unit(node) & 0x7fffffff });
    }
    return out;
  }

  /** The replacement bytes at `offset` (checked: inside the blob and NUL-terminated). */
  replacement(offset: number): Uint8Array {
    let r = this.decoded.get(offset);
    if (r) return r;
    if (offset >= this.strings.length) throw new TokenizerError(`precompiled charsmap: replacement offset ${offset} is outside the ${this.strings.length}-byte strings blob`);
    const nul = this.strings.indexOf(0, offset);
    if (nul < 0) throw new TokenizerError(`precompiled charsmap: replacement at ${offset} is not NUL-terminated`);
    r = this.strings.subarray(offset, nul);
    this.decoded.set(offset, r);
    return r;
  }
}
