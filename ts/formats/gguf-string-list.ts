/**
 * A GGUF string array kept as its UTF-8 bytes and decoded one element at a time.
 *
 * The reader keeps `tokenizer.ggml.merges` this way (see LAZY_STRING_ARRAYS in ./gguf.ts): it is
 * read once, to build the tokenizer's pair table, but as a string[] in the metadata its 128k–280k
 * strings stayed in the model worker's old-generation heap for the life of the model (~7 MiB for
 * a 128k-merge vocabulary, where these bytes and offsets take ~2.8 MiB). Strings made one at a
 * time while the table is built die young instead.
 */
import { decodeUtf8 } from './byte-source.js';

/**
 * A GGUF string array kept as its UTF-8 bytes: `length`, `at(i)`, iteration and `toArray()` decode
 * on request. `readGGUF` returns `tokenizer.ggml.merges` as one; `metaStringArray` and the GGUF
 * writer accept it like a string[].
 */
export class GGUFStringList implements Iterable<string> {
  readonly length: number;

  /** `utf8`: the strings' bytes back to back; `ends[i]`: where string i's bytes end. */
  constructor(
    private readonly utf8: Uint8Array,
    private readonly ends: Uint32Array,
  ) {
    this.length = ends.length;
  }

  /** String `index` (negative: from the end, as Array.prototype.at), or undefined outside the list. */
  at(index: number): string | undefined {
    const i = index < 0 ? index + this.length : index;
    if (!Number.isInteger(i) || i < 0 || i >= this.length) return undefined;
    return decodeUtf8(this.utf8, i === 0 ? 0 : this.ends[i - 1]!, this.ends[i]!);
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) yield this.at(i)!;
  }

  /** Every string, decoded now (a new array on each call). */
  toArray(): string[] {
    const out = new Array<string>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.at(i)!;
    return out;
  }
}
