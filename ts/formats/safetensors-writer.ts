/**
 * safetensors writer (the inverse of ./safetensors.ts): u64 header length, the JSON header padded
 * with spaces to a multiple of 8 (so the data starts 8-byte aligned, as the reference
 * implementation does), then each tensor's bytes back to back in the order given.
 */
import { closeSync, openSync, writeSync } from 'node:fs';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2 };

export interface SafetensorsWriteTensor {
  name: string;
  dtype: SafetensorsDType;
  /** Row-major, outermost first (PyTorch order). */
  shape: readonly number[];
  data: ArrayBufferView | (() => ArrayBufferView);
}

function header(tensors: readonly SafetensorsWriteTensor[], metadata?: Record<string, string>): { bytes: Uint8Array; sizes: number[] } {
  const json: Record<string, unknown> = {};
  if (metadata) json.__metadata__ = metadata;
  let offset = 0;
  const sizes: number[] = [];
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name) || t.name === '__metadata__') throw new Error(`safetensors: tensor name '${t.name}' is duplicated or reserved`);
    names.add(t.name);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new RangeError(`tensor '${t.name}': shape must be non-negative integers`);
    const size = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    sizes.push(size);
    json[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - ((Buffer.byteLength(text) + 8) % 8)) % 8);
  const body = new TextEncoder().encode(text);
  const bytes = new Uint8Array(8 + body.length);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(body.length), true);
  bytes.set(body, 8);
  return { bytes, sizes };
}

function emit(tensors: readonly SafetensorsWriteTensor[], metadata: Record<string, string> | undefined, sink: (b: Uint8Array) => void): number {
  const { bytes, sizes } = header(tensors, metadata);
  sink(bytes);
  let total = bytes.length;
  tensors.forEach((t, i) => {
    const v = typeof t.data === 'function' ? t.data() : t.data;
    const b = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (b.length !== sizes[i]) throw new RangeError(`tensor '${t.name}': data has ${b.length} bytes, ${t.dtype} [${t.shape.join(', ')}] needs ${sizes[i]}`);
    sink(b);
    total += b.length;
  });
  return total;
}

export function encodeSafetensors(tensors: readonly SafetensorsWriteTensor[], metadata?: Record<string, string>): Uint8Array {
  const chunks: Uint8Array[] = [];
  const total = emit(tensors, metadata, (b) => chunks.push(b.slice()));
  const out = new Uint8Array(total);
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/** Streams a safetensors file; returns the bytes written. */
export function writeSafetensors(path: string, tensors: readonly SafetensorsWriteTensor[], metadata?: Record<string, string>): number {
  const fd = openSync(path, 'w');
  try {
    return emit(tensors, metadata, (b) => {
      let pos = 0;
      while (pos < b.length) pos += writeSync(fd, b, pos, b.length - pos);
    });
  } finally {
    closeSync(fd);
  }
}
