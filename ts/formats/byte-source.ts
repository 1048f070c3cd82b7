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

  fail(what: string, detail: string, at = this.pos): never {
    throw new FormatError(`${this.src.label}: ${what} at byte ${at}: ${detail}`);
  }

  /** Makes sure `n` bytes from pos exist; returns the DataView offset of pos. */
  need(n: number, what: string): number {
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

  u8(what: string): number {
    const p = this.need(1, what);
    this.pos += 1;
    return this.view.getUint8(p);
  }
  i8(what: string): number {
    const p = this.need(1, what);
    this.pos += 1;
    return this.view.getInt8(p);
  }
  u16(what: string): number {
    const p = this.need(2, what);
    this.pos += 2;
    return this.view.getUint16(p, true);
  }
  i16(what: string): number {
    const p = this.need(2, what);
    this.pos += 2;
    return this.view.getInt16(p, true);
  }
  u32(what: string): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getUint32(p, true);
  }
  i32(what: string): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getInt32(p, true);
  }
  f32(what: string): number {
    const p = this.need(4, what);
    this.pos += 4;
    return this.view.getFloat32(p, true);
  }
  f64(what: string): number {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getFloat64(p, true);
  }
  u64(what: string): bigint {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getBigUint64(p, true);
  }
  i64(what: string): bigint {
    const p = this.need(8, what);
    this.pos += 8;
    return this.view.getBigInt64(p, true);
  }
  /** A u64 that must fit in a JS number (counts, lengths, offsets). */
  u64n(what: string): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(what, `value ${v} is too large`, at);
    return Number(v);
  }
  /** A copy of the next n bytes. */
  bytesCopy(n: number, what: string): Uint8Array {
    const p = this.need(n, what);
    this.pos += n;
    return this.bytes.slice(p, p + n);
  }
  utf8(n: number, what: string): string {
    const p = this.need(n, what);
    this.pos += n;
    return decoder.decode(this.bytes.subarray(p, p + n));
  }
}

// ignoreBOM: a token may legitimately be U+FEFF (Llama's vocab has one); never strip it.
const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
