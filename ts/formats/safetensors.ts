/**
 * safetensors (Hugging Face): u64 header length N · N bytes of JSON · tensor data.
 * The JSON maps each tensor name to { dtype, shape, data_offsets: [begin, end) } relative to the
 * data start (8 + N), plus an optional "__metadata__" object of strings. Sharded checkpoints add
 * `model.safetensors.index.json` whose `weight_map` names the shard file of every tensor.
 *
 * Everything is checked before use: the header length against the file size, the JSON's shape,
 * every offset pair against the data section and against the dtype × shape byte count, and
 * that no two tensors overlap.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bufferSource, Cursor, fileSource, FormatError, type ByteSource } from './byte-source.js';
import type { GGMLTypeName } from './ggml-types.js';

export interface SafetensorsTensor {
  readonly name: string;
  /** safetensors dtype string as stored ('F32', 'F16', 'BF16', …). */
  readonly dtype: string;
  /** The same as a ggml type name, or null when ggml has none (U8, BOOL, F8_*, …). */
  readonly type: GGMLTypeName | null;
  readonly shape: readonly number[];
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
}

export interface SafetensorsFile {
  readonly path?: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly tensors: readonly SafetensorsTensor[];
  readonly dataOffset: number;
  readonly fileSize: number;
}

const DTYPES: Record<string, { bytes: number; type: GGMLTypeName | null }> = {
  F64: { bytes: 8, type: 'F64' },
  F32: { bytes: 4, type: 'F32' },
  F16: { bytes: 2, type: 'F16' },
  BF16: { bytes: 2, type: 'BF16' },
  I64: { bytes: 8, type: 'I64' },
  I32: { bytes: 4, type: 'I32' },
  I16: { bytes: 2, type: 'I16' },
  I8: { bytes: 1, type: 'I8' },
  U64: { bytes: 8, type: null },
  U32: { bytes: 4, type: null },
  U16: { bytes: 2, type: null },
  U8: { bytes: 1, type: null },
  BOOL: { bytes: 1, type: null },
  F8_E4M3: { bytes: 1, type: null },
  F8_E5M2: { bytes: 1, type: null },
};

const MAX_HEADER = 100 * 1024 * 1024; // the reference implementation's limit

export function readSafetensors(input: string | Uint8Array): SafetensorsFile {
  const src: ByteSource = typeof input === 'string' ? fileSource(input, 1 << 16) : bufferSource(input);
  try {
    const parsed = parse(new Cursor(src));
    return typeof input === 'string' ? { ...parsed, path: input } : parsed;
  } finally {
    src.close();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parse(c: Cursor): SafetensorsFile {
  const label = c.src.label;
  const fail = (msg: string): never => {
    throw new FormatError(`${label}: ${msg}`);
  };
  if (c.remaining < 8) fail(`file is ${c.remaining} bytes, too short for a safetensors header`);
  const n = c.u64('header length');
  if (n > BigInt(MAX_HEADER)) fail(`header length ${n} exceeds the ${MAX_HEADER}-byte limit (not a safetensors file?)`);
  if (n > BigInt(c.remaining)) fail(`header length ${n} exceeds the ${c.remaining} bytes after it (truncated or not a safetensors file)`);
  const headerLen = Number(n);
  const text = c.utf8(headerLen, 'JSON header');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isRecord(json)) fail('header JSON must be an object');
  const dataOffset = 8 + headerLen;
  const fileSize = c.src.size;
  const dataSize = fileSize - dataOffset;

  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensor[] = [];
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!isRecord(entry)) fail('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} must be a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const where = `tensor '${name}'`;
    if (!isRecord(entry)) fail(`${where}: entry must be an object`);
    const e = entry as Record<string, unknown>;
    const dtype = e.dtype;
    if (typeof dtype !== 'string') fail(`${where}: dtype must be a string`);
    const info = DTYPES[dtype as string];
    if (!info) fail(`${where}: unknown dtype '${String(dtype)}'`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`${where}: shape must be an array of non-negative integers`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: data_offsets must be [begin, end] non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    let elements = 1;
    for (const d of shape as number[]) {
      elements *= d;
      if (!Number.isSafeInteger(elements)) fail(`${where}: shape [${(shape as number[]).join(', ')}] overflows`);
    }
    const byteLength = elements * info!.bytes;
    if (end < begin || end > dataSize) fail(`${where}: data_offsets [${begin}, ${end}) lie outside the ${dataSize}-byte data section (truncated file or lying offsets)`);
    if (end - begin !== byteLength) fail(`${where}: data_offsets span ${end - begin} bytes but ${dtype} × [${(shape as number[]).join(', ')}] needs ${byteLength}`);
    tensors.push({ name, dtype: dtype as string, type: info!.type, shape: shape as number[], offset: dataOffset + begin, byteLength });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    if (sorted[i]!.offset < prev.offset + prev.byteLength) fail(`tensors '${prev.name}' and '${sorted[i]!.name}' overlap`);
  }
  return { metadata, tensors, dataOffset, fileSize };
}

/** `model.safetensors.index.json`: tensor name → shard file name (relative to the index). */
export function readSafetensorsIndex(path: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new FormatError(`${path}: cannot read the shard index: ${(err as Error).message}`);
  }
  if (!isRecord(json) || !isRecord(json.weight_map)) throw new FormatError(`${path}: missing "weight_map" object`);
  const map = new Map<string, string>();
  for (const [name, file] of Object.entries(json.weight_map)) {
    if (typeof file !== 'string' || file.includes('/') || file.includes('\\') || file === '..' || !file) {
      throw new FormatError(`${path}: weight_map['${name}'] must be a plain file name, got ${JSON.stringify(file)}`);
    }
    map.set(name, file);
  }
  const dir = dirname(path);
  for (const file of new Set(map.values())) {
    if (!existsSync(join(dir, file))) throw new FormatError(`${path}: shard '${file}' is missing`);
  }
  return map;
}
