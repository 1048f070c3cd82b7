/**
 * GGUF reader (llama.cpp's model file format, versions 2 and 3).
 *
 * Layout (little-endian):
 *   magic "GGUF" · u32 version · u64 tensor_count · u64 kv_count
 *   kv_count × (string key · u32 value_type · value)
 *   tensor_count × (string name · u32 n_dims · u64 dims[n_dims] · u32 ggml_type · u64 offset)
 *   padding to `general.alignment` (default 32) · tensor data (offsets are relative to here)
 * A string is u64 length + UTF-8 bytes; an array is u32 element type + u64 count + elements.
 *
 * `readGGUF` parses the header only; tensor bytes stay in the file (see ./tensor-data.ts to map
 * them). Every count, length and offset is checked against the file size before it is used, so a
 * truncated or lying file gives a `FormatError` naming the field and byte position.
 *
 * Metadata values:
 * - u8, i8, u16, i16, u32, i32, f32, f64 → number; bool → boolean; string → string
 * - u64, i64 → number when it fits exactly (|v| ≤ 2^53 − 1), otherwise bigint
 * - arrays of numbers → typed arrays: Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array,
 *   Int32Array, Float32Array, Float64Array, BigUint64Array (u64), BigInt64Array (i64)
 * - arrays of bool → boolean[]; of strings → string[]; arrays of arrays → GGUFValue[] (nested)
 * - `tokenizer.ggml.merges` → GGUFStringList (its bytes, decoded on request; see ./gguf-string-list.ts)
 * Strings are decoded as UTF-8; invalid sequences become U+FFFD.
 */
import { endianness } from 'node:os';
import { bufferSource, Cursor, fileSource, FormatError, type ByteSource, type Label } from './byte-source.js';
import { ggmlByteLength, ggmlTypeById, type GGMLTypeName } from './ggml-types.js';
import { GGUFStringList } from './gguf-string-list.js';

export { FormatError } from './byte-source.js';
export { GGUFStringList } from './gguf-string-list.js';

export type GGUFArray =
  | Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array
  | Float32Array | Float64Array | BigUint64Array | BigInt64Array
  | boolean[] | string[] | GGUFStringList | GGUFValue[];
export type GGUFValue = number | bigint | boolean | string | GGUFArray;

/** GGUF metadata value type ids (gguf.h `enum gguf_type`). */
export const GGUFValueType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GGUFValueTypeId = (typeof GGUFValueType)[keyof typeof GGUFValueType];

export interface GGUFTensorInfo {
  readonly name: string;
  /** GGUF order: dims[0] is the innermost (contiguous) dimension, i.e. a matrix is [cols, rows]. */
  readonly dims: readonly number[];
  /** ggml storage type name ('F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', …). */
  readonly type: GGMLTypeName;
  /** The numeric ggml type id stored in the file. */
  readonly typeId: number;
  /** Absolute byte offset of the tensor's data in the file (dataOffset + relative offset). */
  readonly offset: number;
  /** Offset as stored in the file, relative to dataOffset. */
  readonly relativeOffset: number;
  readonly byteLength: number;
  /** Number of elements (product of dims). */
  readonly elements: number;
}

export interface GGUFFile {
  readonly version: number;
  /** In file order. */
  readonly metadata: ReadonlyMap<string, GGUFValue>;
  /** The value type id each metadata key was stored with (e.g. to write it back unchanged). */
  readonly metadataTypes: ReadonlyMap<string, { type: GGUFValueTypeId; itemType?: GGUFValueTypeId }>;
  /** In file order. */
  readonly tensors: readonly GGUFTensorInfo[];
  readonly alignment: number;
  /** Absolute offset where tensor data begins. */
  readonly dataOffset: number;
  readonly fileSize: number;
  /** The path read, when it came from a path. */
  readonly path?: string;
}

const MAGIC = 0x46554747; // "GGUF" read as little-endian u32
const MAX_DIMS = 4; // GGML_MAX_DIMS
const MAX_NESTING = 8;
/** String arrays read once, at load, and not needed as strings after: kept as GGUFStringList. */
const LAZY_STRING_ARRAYS = new Set(['tokenizer.ggml.merges']);

/** Minimum bytes one encoded value of each type takes (to reject lying counts early). */
function minValueBytes(type: number): number {
  switch (type) {
    case GGUFValueType.UINT8: case GGUFValueType.INT8: case GGUFValueType.BOOL: return 1;
    case GGUFValueType.UINT16: case GGUFValueType.INT16: return 2;
    case GGUFValueType.UINT32: case GGUFValueType.INT32: case GGUFValueType.FLOAT32: return 4;
    case GGUFValueType.UINT64: case GGUFValueType.INT64: case GGUFValueType.FLOAT64: return 8;
    case GGUFValueType.STRING: return 8;
    case GGUFValueType.ARRAY: return 12;
    default: return 1;
  }
}

/** Parses a GGUF header from a path (reads only the header bytes) or from bytes in memory. */
export function readGGUF(input: string | Uint8Array): GGUFFile {
  if (endianness() !== 'LE') throw new FormatError('GGUF reading needs a little-endian host');
  const src: ByteSource = typeof input === 'string' ? fileSource(input) : bufferSource(input);
  try {
    const parsed = parse(new Cursor(src));
    return typeof input === 'string' ? { ...parsed, path: input } : parsed;
  } finally {
    src.close();
  }
}

function parse(c: Cursor): GGUFFile {
  if (c.remaining < 4) c.fail('magic', `file is ${c.remaining} bytes, too short to be GGUF`);
  const magic = c.u32('magic');
  if (magic !== MAGIC) {
    c.fail('magic', `expected "GGUF", found 0x${magic.toString(16).padStart(8, '0')} (not a GGUF file)`, 0);
  }
  const version = c.u32('version');
  if (version === 1) c.fail('version', 'GGUF version 1 (2023 pre-release format) is not supported; re-convert the model', 4);
  if (version !== 2 && version !== 3) c.fail('version', `unsupported GGUF version ${version} (supported: 2, 3)`, 4);

  const tensorCount = c.u64n('tensor_count');
  const kvCount = c.u64n('metadata_kv_count');
  // Each KV takes ≥ 8 (key length) + 4 (type) + 1 bytes; each tensor info ≥ 8 + 4 + 4 + 8.
  if (kvCount * 13 > c.remaining) c.fail('metadata_kv_count', `${kvCount} entries cannot fit in the ${c.remaining} remaining bytes`, 16);
  if (tensorCount * 24 > c.remaining) c.fail('tensor_count', `${tensorCount} tensors cannot fit in the ${c.remaining} remaining bytes`, 8);

  const metadata = new Map<string, GGUFValue>();
  const metadataTypes = new Map<string, { type: GGUFValueTypeId; itemType?: GGUFValueTypeId }>();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = c.pos;
    const key = readString(c, `metadata key #${i}`);
    if (metadata.has(key)) c.fail(`metadata key '${key}'`, 'duplicate key', keyAt);
    const typeAt = c.pos;
    const type = c.u32(`type of '${key}'`);
    if (!isValueType(type)) c.fail(`type of '${key}'`, `unknown value type ${type}`, typeAt);
    let itemType: GGUFValueTypeId | undefined;
    if (type === GGUFValueType.ARRAY) {
      const t = peekU32(c);
      if (isValueType(t)) itemType = t;
    }
    const lazy = itemType === GGUFValueType.STRING && LAZY_STRING_ARRAYS.has(key);
    metadata.set(key, lazy ? readStringList(c, `'${key}'`) : readValue(c, type, `'${key}'`, 0));
    metadataTypes.set(key, itemType === undefined ? { type } : { type, itemType });
  }

  let alignment = 32;
  const alignValue = metadata.get('general.alignment');
  if (alignValue !== undefined) {
    if (typeof alignValue !== 'number' || !Number.isInteger(alignValue) || alignValue <= 0 || (alignValue & (alignValue - 1)) !== 0) {
      throw new FormatError(`${c.src.label}: general.alignment must be a power of two, got ${String(alignValue)}`);
    }
    alignment = alignValue;
  }

  const infos: { name: string; dims: number[]; typeId: number; rel: number; at: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    const name = readString(c, `tensor #${i} name`);
    if (names.has(name)) c.fail(`tensor '${name}'`, 'duplicate tensor name', at);
    names.add(name);
    const nDimsAt = c.pos;
    const nDims = c.u32(`n_dims of '${name}'`);
    if (nDims < 1 || nDims > MAX_DIMS) c.fail(`n_dims of '${name}'`, `${nDims} dimensions (must be 1..${MAX_DIMS})`, nDimsAt);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64n(`dim ${d} of '${name}'`));
    const typeId = c.u32(`type of '${name}'`);
    const rel = c.u64n(`offset of '${name}'`);
    infos.push({ name, dims, typeId, rel, at });
  }

  const dataOffset = alignUp(c.pos, alignment);
  const fileSize = c.src.size;
  if (tensorCount > 0 && dataOffset > fileSize) {
    c.fail('tensor data', `data section would start at ${dataOffset}, past the end of the ${fileSize}-byte file`);
  }

  const tensors: GGUFTensorInfo[] = infos.map(({ name, dims, typeId, rel, at }) => {
    const where = `${c.src.label}: tensor '${name}' (info at byte ${at})`;
    const type = ggmlTypeById(typeId);
    if (!type) throw new FormatError(`${where}: unknown ggml type id ${typeId}`);
    let elements = 1;
    for (const d of dims) {
      elements *= d;
      if (!Number.isSafeInteger(elements)) throw new FormatError(`${where}: dims [${dims.join(', ')}] overflow`);
    }
    if (dims[0]! % type.blockSize !== 0) {
      throw new FormatError(`${where}: innermost dim ${dims[0]} is not a multiple of ${type.name}'s block size ${type.blockSize}`);
    }
    const byteLength = ggmlByteLength(type, elements);
    if (rel % alignment !== 0) throw new FormatError(`${where}: data offset ${rel} is not a multiple of the alignment ${alignment}`);
    const offset = dataOffset + rel;
    if (!Number.isSafeInteger(offset) || offset + byteLength > fileSize) {
      throw new FormatError(`${where}: data [${offset}, ${offset + byteLength}) lies outside the ${fileSize}-byte file (truncated or lying offset/dims)`);
    }
    return { name, dims, type: type.name, typeId, offset, relativeOffset: rel, byteLength, elements };
  });

  return { version, metadata, metadataTypes, tensors, alignment, dataOffset, fileSize };
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function isValueType(t: number): t is GGUFValueTypeId {
  return Number.isInteger(t) && t >= 0 && t <= 12;
}

function peekU32(c: Cursor): number {
  const at = c.pos;
  const v = c.remaining >= 4 ? c.u32('array type') : -1;
  c.pos = at;
  return v;
}

function readString(c: Cursor, what: Label): string {
  const at = c.pos;
  if (c.remaining < 8) c.fail(what, `string length needs 8 bytes but only ${c.remaining} remain (truncated or corrupt file)`);
  const len = c.u64n(what);
  if (len > c.remaining) c.fail(what, `string length ${len} exceeds the ${c.remaining} remaining bytes`, at);
  return c.utf8(len, what);
}

function u64Value(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}
function i64Value(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function readValue(c: Cursor, type: GGUFValueTypeId, what: Label, depth: number): GGUFValue {
  switch (type) {
    case GGUFValueType.UINT8: return c.u8(what);
    case GGUFValueType.INT8: return c.i8(what);
    case GGUFValueType.UINT16: return c.u16(what);
    case GGUFValueType.INT16: return c.i16(what);
    case GGUFValueType.UINT32: return c.u32(what);
    case GGUFValueType.INT32: return c.i32(what);
    case GGUFValueType.FLOAT32: return c.f32(what);
    case GGUFValueType.FLOAT64: return c.f64(what);
    case GGUFValueType.UINT64: return u64Value(c.u64(what));
    case GGUFValueType.INT64: return i64Value(c.i64(what));
    case GGUFValueType.BOOL: {
      const at = c.pos;
      const b = c.u8(what);
      if (b > 1) c.fail(what, `bool byte is ${b} (must be 0 or 1)`, at);
      return b === 1;
    }
    case GGUFValueType.STRING: return readString(c, what);
    case GGUFValueType.ARRAY: return readArray(c, what, depth);
  }
}

/** A string array (its element type already peeked) as a GGUFStringList: lengths checked, bytes copied. */
function readStringList(c: Cursor, what: string): GGUFStringList | string[] {
  const start = c.pos;
  c.u32(`${what} (array element type)`);
  const countAt = c.pos;
  const count = c.u64n(`${what} (array length)`);
  if (count * minValueBytes(GGUFValueType.STRING) > c.remaining) {
    c.fail(what, `array of ${count} elements cannot fit in the ${c.remaining} remaining bytes`, countAt);
  }
  const first = c.pos;
  const ends = new Uint32Array(count);
  let total = 0;
  for (let i = 0; i < count; i++) {
    const at = c.pos;
    const len = c.u64n(() => `${what}[${i}]`);
    if (len > c.remaining) c.fail(() => `${what}[${i}]`, `string length ${len} exceeds the ${c.remaining} remaining bytes`, at);
    c.need(len, () => `${what}[${i}]`);
    c.pos += len;
    total += len;
    if (total > 0xffffffff) {
      c.pos = start; // offsets past 4 GiB: no header this large exists; read it the ordinary way
      return readArray(c, what, 0) as string[];
    }
    ends[i] = total;
  }
  const utf8 = new Uint8Array(total);
  c.pos = first;
  for (let i = 0; i < count; i++) {
    const from = i === 0 ? 0 : ends[i - 1]!;
    c.pos += 8;
    c.copyInto(ends[i]! - from, what, utf8, from);
  }
  return new GGUFStringList(utf8, ends);
}

function readArray(c: Cursor, what: Label, depth: number): GGUFArray {
  const name = typeof what === 'string' ? what : what();
  const at = c.pos;
  if (depth >= MAX_NESTING) c.fail(what, `arrays nested deeper than ${MAX_NESTING}`, at);
  const itemType = c.u32(`${name} (array element type)`);
  if (!isValueType(itemType)) c.fail(what, `unknown array element type ${itemType}`, at);
  const countAt = c.pos;
  const count = c.u64n(`${name} (array length)`);
  if (count * minValueBytes(itemType) > c.remaining) {
    c.fail(what, `array of ${count} elements cannot fit in the ${c.remaining} remaining bytes`, countAt);
  }
  const typed = <T>(bytesPer: number, make: (b: ArrayBuffer) => T): T => {
    // Copy into a fresh, aligned buffer: header positions are not aligned to the element size.
    const bytes = c.bytesCopy(count * bytesPer, what);
    return make(bytes.buffer as ArrayBuffer);
  };
  switch (itemType) {
    case GGUFValueType.UINT8: return typed(1, (b) => new Uint8Array(b));
    case GGUFValueType.INT8: return typed(1, (b) => new Int8Array(b));
    case GGUFValueType.UINT16: return typed(2, (b) => new Uint16Array(b));
    case GGUFValueType.INT16: return typed(2, (b) => new Int16Array(b));
    case GGUFValueType.UINT32: return typed(4, (b) => new Uint32Array(b));
    case GGUFValueType.INT32: return typed(4, (b) => new Int32Array(b));
    case GGUFValueType.FLOAT32: return typed(4, (b) => new Float32Array(b));
    case GGUFValueType.FLOAT64: return typed(8, (b) => new Float64Array(b));
    case GGUFValueType.UINT64: return typed(8, (b) => new BigUint64Array(b));
    case GGUFValueType.INT64: return typed(8, (b) => new BigInt64Array(b));
    case GGUFValueType.BOOL: {
      const out: boolean[] = new Array<boolean>(count);
      for (let i = 0; i < count; i++) out[i] = readValue(c, GGUFValueType.BOOL, () => `${name}[${i}]`, depth) as boolean;
      return out;
    }
    case GGUFValueType.STRING: {
      const out: string[] = new Array<string>(count);
      for (let i = 0; i < count; i++) out[i] = readString(c, () => `${name}[${i}]`);
      return out;
    }
    case GGUFValueType.ARRAY: {
      const out: GGUFValue[] = new Array<GGUFValue>(count);
      for (let i = 0; i < count; i++) out[i] = readArray(c, `${name}[${i}]`, depth + 1);
      return out;
    }
  }
}

// ── typed metadata access (what model/tokenizer loaders use) ────────────────────────────────────

function describe(v: GGUFValue | undefined): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'object') return `${v.constructor.name}(${(v as { length: number }).length})`;
  return `${typeof v} ${String(v)}`;
}

/** A numeric metadata value (any integer or float type; a bigint beyond 2^53 is an error). */
export function metaNumber(f: GGUFFile, key: string): number | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  throw new FormatError(`GGUF metadata '${key}' should be a number, found ${describe(v)}`);
}

export function metaString(f: GGUFFile, key: string): string | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw new FormatError(`GGUF metadata '${key}' should be a string, found ${describe(v)}`);
}

export function metaBool(f: GGUFFile, key: string): boolean | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  throw new FormatError(`GGUF metadata '${key}' should be a bool, found ${describe(v)}`);
}

export function metaStringArray(f: GGUFFile, key: string): string[] | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  if (v instanceof GGUFStringList) return v.toArray();
  throw new FormatError(`GGUF metadata '${key}' should be an array of strings, found ${describe(v)}`);
}

/** A numeric array as Float32Array (accepts f32 arrays as is, converts other numeric arrays). */
export function metaFloat32Array(f: GGUFFile, key: string): Float32Array | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (v instanceof Float32Array) return v;
  if (ArrayBuffer.isView(v) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) {
    return Float32Array.from(v as ArrayLike<number>);
  }
  throw new FormatError(`GGUF metadata '${key}' should be a numeric array, found ${describe(v)}`);
}

/** An integer array as Int32Array (accepts any integer array whose values fit). */
export function metaInt32Array(f: GGUFFile, key: string): Int32Array | undefined {
  const v = f.metadata.get(key);
  if (v === undefined) return undefined;
  if (v instanceof Int32Array) return v;
  if (v instanceof Uint8Array || v instanceof Int8Array || v instanceof Uint16Array || v instanceof Int16Array) return Int32Array.from(v);
  if (v instanceof Uint32Array || v instanceof BigInt64Array || v instanceof BigUint64Array) {
    const out = new Int32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x = Number(v[i]);
      if (x > 0x7fffffff || x < -0x80000000) throw new FormatError(`GGUF metadata '${key}'[${i}] = ${x} does not fit in int32`);
      out[i] = x;
    }
    return out;
  }
  throw new FormatError(`GGUF metadata '${key}' should be an integer array, found ${describe(v)}`);
}
