/**
 * GGUF writer (version 3, little-endian), the inverse of ./gguf.ts: metadata of every value type
 * and tensors of any ggml type given as raw bytes (F32, F16, BF16, Q8_0 … ; see ./dtype-convert.ts
 * to produce them). Tensor data is aligned to `alignment` (32 by default, llama.cpp's default).
 *
 * Metadata values carry their GGUF type: JS numbers are ambiguous (llama.cpp insists that
 * `context_length` is u32 and `rope.freq_base` is f32), so plain numbers are only accepted through
 * the helpers `u32(…)`, `f32(…)`, … ; strings, booleans, string[], boolean[] and typed arrays map
 * to their obvious types.
 *
 * Tensor data may be a function, called once when that tensor is written, so a converter can
 * produce (and drop) one tensor at a time instead of holding the whole model.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { ggmlByteLength, ggmlTypeByName, type GGMLTypeName } from './ggml-types.js';
import { GGUFStringList, GGUFValueType, type GGUFValue, type GGUFValueTypeId } from './gguf.js';

export interface TypedValue {
  readonly type: GGUFValueTypeId;
  readonly value: GGUFValue;
  /** For arrays: the element type (needed for arrays of arrays and empty arrays). */
  readonly itemType?: GGUFValueTypeId;
}

export type GGUFWriteValue = TypedValue | string | boolean | GGUFValue;

export const u8 = (value: number): TypedValue => ({ type: GGUFValueType.UINT8, value });
export const i8 = (value: number): TypedValue => ({ type: GGUFValueType.INT8, value });
export const u16 = (value: number): TypedValue => ({ type: GGUFValueType.UINT16, value });
export const i16 = (value: number): TypedValue => ({ type: GGUFValueType.INT16, value });
export const u32 = (value: number): TypedValue => ({ type: GGUFValueType.UINT32, value });
export const i32 = (value: number): TypedValue => ({ type: GGUFValueType.INT32, value });
export const f32 = (value: number): TypedValue => ({ type: GGUFValueType.FLOAT32, value });
export const f64 = (value: number): TypedValue => ({ type: GGUFValueType.FLOAT64, value });
export const u64 = (value: number | bigint): TypedValue => ({ type: GGUFValueType.UINT64, value });
export const i64 = (value: number | bigint): TypedValue => ({ type: GGUFValueType.INT64, value });

export interface GGUFWriteTensor {
  name: string;
  type: GGMLTypeName;
  /** GGUF order (innermost first): a [rows, cols] matrix has dims [cols, rows]. */
  dims: readonly number[];
  /** The raw bytes in the type's layout, or a function producing them when the tensor is written. */
  data: ArrayBufferView | (() => ArrayBufferView);
}

export interface GGUFWriteInput {
  /** In the order to write; a Map or [key, value] pairs. */
  metadata: Iterable<readonly [string, GGUFWriteValue]>;
  tensors: readonly GGUFWriteTensor[];
  /** Default 32; when not 32 it is also written as general.alignment (u32). */
  alignment?: number;
}

interface Sink {
  write(bytes: Uint8Array): void;
}

class HeaderEncoder {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private grow(n: number): number {
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  u8(v: number) {
    const at = this.grow(1);
    this.view.setUint8(at, v);
  }
  i8(v: number) {
    const at = this.grow(1);
    this.view.setInt8(at, v);
  }
  u16(v: number) {
    const at = this.grow(2);
    this.view.setUint16(at, v, true);
  }
  i16(v: number) {
    const at = this.grow(2);
    this.view.setInt16(at, v, true);
  }
  u32(v: number) {
    const at = this.grow(4);
    this.view.setUint32(at, v, true);
  }
  i32(v: number) {
    const at = this.grow(4);
    this.view.setInt32(at, v, true);
  }
  f32(v: number) {
    const at = this.grow(4);
    this.view.setFloat32(at, v, true);
  }
  f64(v: number) {
    const at = this.grow(8);
    this.view.setFloat64(at, v, true);
  }
  u64(v: number | bigint) {
    const at = this.grow(8);
    this.view.setBigUint64(at, BigInt(v), true);
  }
  i64(v: number | bigint) {
    const at = this.grow(8);
    this.view.setBigInt64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array) {
    const at = this.grow(b.length); // grow first: it may replace this.buf
    this.buf.set(b, at);
  }
  str(s: string) {
    const b = encoder.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

const encoder = new TextEncoder();

function typedArrayType(v: ArrayBufferView): GGUFValueTypeId | null {
  if (v instanceof Uint8Array) return GGUFValueType.UINT8;
  if (v instanceof Int8Array) return GGUFValueType.INT8;
  if (v instanceof Uint16Array) return GGUFValueType.UINT16;
  if (v instanceof Int16Array) return GGUFValueType.INT16;
  if (v instanceof Uint32Array) return GGUFValueType.UINT32;
  if (v instanceof Int32Array) return GGUFValueType.INT32;
  if (v instanceof Float32Array) return GGUFValueType.FLOAT32;
  if (v instanceof Float64Array) return GGUFValueType.FLOAT64;
  if (v instanceof BigUint64Array) return GGUFValueType.UINT64;
  if (v instanceof BigInt64Array) return GGUFValueType.INT64;
  return null;
}

/** Resolves a value's GGUF type (and array element type), or explains why it cannot. */
function resolve(key: string, v: GGUFWriteValue): TypedValue {
  if (typeof v === 'object' && v !== null && 'type' in v && 'value' in v && !ArrayBuffer.isView(v) && !Array.isArray(v)) return v as TypedValue;
  if (typeof v === 'string') return { type: GGUFValueType.STRING, value: v };
  if (typeof v === 'boolean') return { type: GGUFValueType.BOOL, value: v };
  if (typeof v === 'number' || typeof v === 'bigint') {
    throw new TypeError(`GGUF metadata '${key}': a plain number is ambiguous; wrap it as u32(…), i32(…), f32(…), u64(…) …`);
  }
  if (v instanceof GGUFStringList) return { type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: v };
  if (ArrayBuffer.isView(v)) {
    const t = typedArrayType(v);
    if (t === null) throw new TypeError(`GGUF metadata '${key}': unsupported typed array ${v.constructor.name}`);
    return { type: GGUFValueType.ARRAY, itemType: t, value: v as GGUFValue };
  }
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { type: GGUFValueType.ARRAY, itemType: GGUFValueType.STRING, value: v };
    if (v.every((x) => typeof x === 'boolean')) return { type: GGUFValueType.ARRAY, itemType: GGUFValueType.BOOL, value: v };
    if (v.length > 0 && v.every((x) => Array.isArray(x) || ArrayBuffer.isView(x))) return { type: GGUFValueType.ARRAY, itemType: GGUFValueType.ARRAY, value: v };
    throw new TypeError(`GGUF metadata '${key}': arrays must hold only strings, only booleans, or only arrays (use a typed array for numbers)`);
  }
  throw new TypeError(`GGUF metadata '${key}': cannot encode ${String(v)}`);
}

function encodeValue(e: HeaderEncoder, key: string, type: GGUFValueTypeId, value: GGUFValue, itemType?: GGUFValueTypeId): void {
  const bad = (): never => {
    throw new TypeError(`GGUF metadata '${key}': value ${String(value)} does not match type ${type}`);
  };
  const int = (lo: number, hi: number) => {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) bad();
    return value as number;
  };
  switch (type) {
    case GGUFValueType.UINT8: return e.u8(int(0, 0xff));
    case GGUFValueType.INT8: return e.i8(int(-0x80, 0x7f));
    case GGUFValueType.UINT16: return e.u16(int(0, 0xffff));
    case GGUFValueType.INT16: return e.i16(int(-0x8000, 0x7fff));
    case GGUFValueType.UINT32: return e.u32(int(0, 0xffffffff));
    case GGUFValueType.INT32: return e.i32(int(-0x80000000, 0x7fffffff));
    case GGUFValueType.FLOAT32: return typeof value === 'number' ? e.f32(value) : bad();
    case GGUFValueType.FLOAT64: return typeof value === 'number' ? e.f64(value) : bad();
    case GGUFValueType.UINT64:
      if ((typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) && (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n)) bad();
      return e.u64(value as number | bigint);
    case GGUFValueType.INT64:
      if ((typeof value !== 'number' || !Number.isSafeInteger(value)) && (typeof value !== 'bigint' || value < -(1n << 63n) || value >= 1n << 63n)) bad();
      return e.i64(value as number | bigint);
    case GGUFValueType.BOOL: return typeof value === 'boolean' ? e.u8(value ? 1 : 0) : bad();
    case GGUFValueType.STRING: return typeof value === 'string' ? e.str(value) : bad();
    case GGUFValueType.ARRAY: {
      if (value instanceof GGUFStringList) {
        if (itemType !== undefined && itemType !== GGUFValueType.STRING) bad();
        e.u32(GGUFValueType.STRING);
        e.u64(value.length);
        for (const item of value) e.str(item);
        return;
      }
      if (!Array.isArray(value) && !ArrayBuffer.isView(value)) bad();
      const items = value as ArrayLike<GGUFValue>;
      let t = itemType;
      if (t === undefined) t = ArrayBuffer.isView(value) ? typedArrayType(value) ?? undefined : undefined;
      if (t === undefined) t = resolve(key, value).itemType;
      if (t === undefined) bad();
      e.u32(t!);
      e.u64(items.length);
      if (ArrayBuffer.isView(value) && typedArrayType(value) === t) {
        e.bytes(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
        return;
      }
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        if (t === GGUFValueType.ARRAY) {
          const r = resolve(`${key}[${i}]`, item);
          encodeValue(e, `${key}[${i}]`, GGUFValueType.ARRAY, r.value, r.itemType);
        } else {
          encodeValue(e, `${key}[${i}]`, t!, item);
        }
      }
      return;
    }
    default: bad();
  }
}

function tensorBytes(t: GGUFWriteTensor): number {
  const type = ggmlTypeByName(t.type);
  if (t.dims.length < 1 || t.dims.length > 4) throw new RangeError(`tensor '${t.name}': ${t.dims.length} dims (GGUF allows 1..4)`);
  if (!t.dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`tensor '${t.name}': dims must be non-negative integers`);
  if (t.dims[0]! % type.blockSize !== 0) throw new RangeError(`tensor '${t.name}': innermost dim ${t.dims[0]} is not a multiple of ${t.type}'s block size ${type.blockSize}`);
  return ggmlByteLength(type, t.dims.reduce((a, b) => a * b, 1));
}

function write(input: GGUFWriteInput, sink: Sink): number {
  const alignment = input.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) throw new RangeError(`alignment must be a power of two, got ${alignment}`);
  const entries: [string, TypedValue][] = [];
  const keys = new Set<string>();
  for (const [key, v] of input.metadata) {
    if (keys.has(key)) throw new Error(`GGUF metadata '${key}' given twice`);
    keys.add(key);
    entries.push([key, resolve(key, v)]);
  }
  if (alignment !== 32 && !keys.has('general.alignment')) entries.push(['general.alignment', u32(alignment)]);

  const names = new Set<string>();
  const sizes = input.tensors.map((t) => {
    if (names.has(t.name)) throw new Error(`tensor '${t.name}' given twice`);
    names.add(t.name);
    return tensorBytes(t);
  });
  const pad = (n: number) => (alignment - (n % alignment)) % alignment;

  const e = new HeaderEncoder();
  e.bytes(encoder.encode('GGUF'));
  e.u32(3);
  e.u64(input.tensors.length);
  e.u64(entries.length);
  for (const [key, v] of entries) {
    e.str(key);
    e.u32(v.type);
    encodeValue(e, key, v.type, v.value, v.itemType);
  }
  let offset = 0;
  input.tensors.forEach((t, i) => {
    e.str(t.name);
    e.u32(t.dims.length);
    for (const d of t.dims) e.u64(d);
    e.u32(ggmlTypeByName(t.type).id);
    e.u64(offset);
    offset += sizes[i]! + pad(sizes[i]!);
  });
  const header = e.result();
  sink.write(header);
  let written = header.length;
  const zeros = new Uint8Array(alignment);
  const padTo = () => {
    const p = pad(written);
    if (p) sink.write(zeros.subarray(0, p));
    written += p;
  };
  if (input.tensors.length > 0) padTo(); // llama.cpp leaves a tensor-less (vocab-only) file unpadded
  input.tensors.forEach((t, i) => {
    const view = typeof t.data === 'function' ? t.data() : t.data;
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.length !== sizes[i]) throw new RangeError(`tensor '${t.name}': data has ${bytes.length} bytes, ${t.type} [${t.dims.join(', ')}] needs ${sizes[i]}`);
    sink.write(bytes);
    written += bytes.length;
    padTo();
  });
  return written;
}

/** Encodes a whole GGUF file in memory. */
export function encodeGGUF(input: GGUFWriteInput): Uint8Array {
  const chunks: Uint8Array[] = [];
  const total = write(input, { write: (b) => chunks.push(b.slice()) });
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Streams a GGUF file to `path` (one tensor in memory at a time). Returns the bytes written. */
export function writeGGUF(path: string, input: GGUFWriteInput): number {
  const fd = openSync(path, 'w');
  try {
    return write(input, {
      write(b) {
        let pos = 0;
        while (pos < b.length) pos += writeSync(fd, b, pos, b.length - pos);
      },
    });
  } finally {
    closeSync(fd);
  }
}
