/**
 * The bytes of a file header, read on demand. Parsers ask for `[0, end)`; a path-backed source
 * reads more of the file only when the header needs it, so parsing a multi-GB model touches just
 * its first megabytes. Every request beyond the end of the file is a `FormatError`.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** A malformed or unsupported model file. `message` names the file, the field and the offset. */
export class FormatError extends Error {
  override name = 'FormatError';
}

export interface ByteSource {
  /** What to call the input in error messages (the path, or "<buffer>"). */
  readonly label: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Returns a view whose bytes [0, end) are the file's first `end` bytes. end ≤ size. */
  prefix(end: number): Uint8Array;
  close(): void;
}

export function bufferSource(bytes: Uint8Array, label = '<buffer>'): ByteSource {
  return { label, size: bytes.byteLength, prefix: () => bytes, close() {} };
}

/** Reads the file at `path` lazily in growing chunks (first chunk: `initial` bytes). */
export function fileSource(path: string, initial = 1 << 20): ByteSource {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new FormatError(`cannot open '${path}': ${(err as Error).message}`);
  }
  let size: number;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FormatError(`'${path}' is not a regular file`);
    size = st.size;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let buf = new Uint8Array(0);
  let closed = false;
  const grow = (end: number): void => {
    let want = Math.max(end, Math.min(size, Math.max(initial, buf.byteLength * 2)));
    want = Math.min(want, size);
    const next = new Uint8Array(want);
    next.set(buf);
    let pos = buf.byteLength;
    while (pos < want) {
      const n = readSync(fd, next, pos, want - pos, pos);
      if (n <= 0) throw new FormatError(`'${path}': unexpected end of file at byte ${pos} (file shrank while reading?)`);
      pos += n;
    }
    buf = next;
  };
  return {
    label: path,
    size,
    prefix(end: number): Uint8Array {
      if (closed) throw new Error(`'${path}' is closed`);
      if (end > size) throw new FormatError(`'${path}': needs byte ${end} but the file has ${size}`);
      if (end > buf.byteLength) grow(end);
      return buf;
    },
    close() {
      if (!closed) {
        closed = true;
        closeSync(fd);
      }
    },
  };
}

/**
 * A little-endian cursor over a ByteSource. Each read checks that the bytes exist first and
 * throws a FormatError naming `what` was being read and where.
 */
/** What is being read, for error messages; a function when building the text would cost per element. */
export type Label = string | (() => string);
const text = (l: Label): string => (typeof l === 'string' ? l : l());

export class Cursor {
  pos = 0;
  private bytes: Uint8Array;
  private view: DataView;

  constructor(readonly src: ByteSource) {
    this.bytes = src.prefix(Math.min(src.size, 0));
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }

  get remaining(): number {
    return this.src.size - this.pos;
  }

  fail(what: Label, detail: string, at = this.pos): never {
    throw new FormatError(`${this.src.label}: ${text(what)} at byte ${at}: ${detail}`);
  }

  /** Makes sure `n` bytes from pos exist; returns the DataView offset of pos. */
  need(n: number, what: Label): number {
    if (!Number.isSafeInteger(n) || n < 0 || n > this.remaining) {
      this.fail(what, `needs ${n} bytes but only ${this.remaining} remain (truncated or corrupt file)`);
    }
    const end = this.pos + n;
    if (end > this.bytes.byteLength) {
      this.bytes = this.src.prefix(end);
      this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    }
    return this.pos;
  }

  u8(what: Label): number {
    const p = this.need(1, what);
    this.pos += 1;
    return this.view.getUint8(p);
  }
  i8(what: Label): number {
    const p = this.need(1, what);
    this.pos += 1;
    return this.view.getInt8(p);
  }
  u16(what: Label): number {
    const p = this.need(2, what);
    this.pos += 2;
    return this.view.getUint16(p, true);
  }
  i16(what: Label): number {
    const p = this.need(2, what);
    this.pos += 2;
    return this.view.getInt16(p, true);
  }
  u32(what: Label): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(p, true);
  }
  i32(what: Label): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getInt32(p, true);
  }
  f32(what: Label): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getFloat32(p, true);
  }
  f64(what: Label): number {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getFloat64(p, true);
  }
  u64(what: Label): bigint {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(p, true);
  }
  i64(what: Label): bigint {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getBigInt64(p, true);
  }
  /** A u64 that must fit in a JS number (counts, lengths, offsets). No BigInt on the fast path. */
  u64n(what: Label): number {
    const p = this.need(8, what);
    const lo = this.view.getUint32(p, true);
    const hi = this.view.getUint32(p + 4, true);
    if (hi > 0x1fffff) this.fail(what, `value ${this.view.getBigUint64(p, true)} is too large`, p);
    this.pos += 8;
    return hi * 4294967296 + lo;
  }
  /** A copy of the next n bytes. */
  bytesCopy(n: number, what: Label): Uint8Array {
    const p = this.need(n, what);
    this.pos += n;
    return this.bytes.slice(p, p + n);
  }
  utf8(n: number, what: Label): string {
    const p = this.need(n, what);
    this.pos += n;
    return decodeUtf8(this.bytes, p, p + n);
  }
  /** Copies the next n bytes into dst at `at`. */
  copyInto(n: number, what: Label, dst: Uint8Array, at: number): void {
    const p = this.need(n, what);
    this.pos += n;
    dst.set(this.bytes.subarray(p, p + n), at);
  }
}

/** UTF-8 bytes [start, end) → string; invalid sequences become U+FFFD. */
export function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  return end - start <= 64 ? decodeShortUtf8(b, start, end) : decoder.decode(b.subarray(start, end));
}

/**
 * UTF-8 → string for short strings (vocabulary tokens), where TextDecoder's per-call cost
 * dominates. Decodes well-formed UTF-8 only; anything else (overlong forms, surrogates, truncated
 * sequences) goes to TextDecoder so invalid input gets its exact replacement-character semantics.
 */
const scratch = new Uint16Array(128); // ≤ 64 bytes of UTF-8 never make more than 64 UTF-16 units

function decodeShortUtf8(b: Uint8Array, start: number, end: number): string {
  let n = 0;
  let i = start;
  while (i < end) {
    const c = b[i]!;
    if (c < 0x80) {
      scratch[n++] = c;
      i++;
      continue;
    }
    let cp: number;
    let len: number;
    let min: number;
    if ((c & 0xe0) === 0xc0) { cp = c & 0x1f; len = 2; min = 0x80; }
    else if ((c & 0xf0) === 0xe0) { cp = c & 0x0f; len = 3; min = 0x800; }
    else if ((c & 0xf8) === 0xf0) { cp = c & 0x07; len = 4; min = 0x10000; }
    else return decoder.decode(b.subarray(start, end));
    if (i + len > end) return decoder.decode(b.subarray(start, end));
    for (let k = 1; k < len; k++) {
      const cc = b[i + k]!;
      if ((cc & 0xc0) !== 0x80) return decoder.decode(b.subarray(start, end));
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return decoder.decode(b.subarray(start, end));
    if (cp >= 0x10000) {
      cp -= 0x10000;
      scratch[n++] = 0xd800 + (cp >> 10);
      scratch[n++] = 0xdc00 + (cp & 0x3ff);
    } else {
      scratch[n++] = cp;
    }
    i += len;
  }
  return String.fromCharCode.apply(null, scratch.subarray(0, n) as unknown as number[]);
}

// ignoreBOM: a token may legitimately be U+FEFF (Llama's vocab has one); never strip it.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
