/**
 * Typed-array views of tensors inside a loaded file (see ./mapped-file.ts), in the shapes the
 * backend takes (`Weights` in ts/backend/types.ts): F32 → Float32Array, F16 / BF16 → Uint16Array
 * (raw bits), every quantized type of the weight-type table (ts/backend/weight-types.ts) → its raw
 * block bytes (Uint8Array), computed in its own layout. Nothing is widened at load.
 * A view shares the file's memory when the tensor's offset is aligned to its element size; only an
 * unaligned tensor (possible in safetensors) is copied. Other ggml types are listed by the readers
 * but cannot be viewed: a clear error names the tensor and its type.
 */
import type { DType, Weights } from '../backend/types.js';
import { dequantizeWeights } from '../backend/quants/index.js';
import { cannotComputeMessage, rowBytes, typeByGgmlName, weightType } from '../backend/weight-types.js';
import { FormatError } from './byte-source.js';
import type { GGMLTypeName } from './ggml-types.js';

/** Where one tensor's bytes are and how to read them. */
export interface TensorEntry {
  /** Canonical name (see ./model-file.ts). */
  readonly name: string;
  /** Storage type in the file. */
  readonly type: GGMLTypeName;
  /** Row-major, outermost first (PyTorch order): a Linear weight is [out, in]. */
  readonly shape: readonly number[];
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly byteLength: number;
  /** Which file holds it (sharded safetensors); index into the model's file list. */
  readonly file: number;
  /**
   * Stored as [in, out] and to be transposed on load (HF GPT-2's Conv1D). `shape` already gives
   * the transposed, canonical [out, in].
   */
  readonly transposed?: boolean;
}

/** The backend dtype a stored type is served as (null: tensorloom cannot compute with it). */
export function servedDType(type: GGMLTypeName): DType | null {
  return typeByGgmlName(type)?.name ?? null;
}

function rowsCols(t: TensorEntry): { rows: number; cols: number } {
  const cols = t.shape.length ? t.shape[t.shape.length - 1]! : 1;
  let rows = 1;
  for (let i = 0; i < t.shape.length - 1; i++) rows *= t.shape[i]!;
  return { rows, cols };
}

function rawBytes(bytes: Uint8Array, t: TensorEntry): Uint8Array {
  if (t.offset < 0 || t.offset + t.byteLength > bytes.byteLength) {
    throw new FormatError(`tensor '${t.name}': bytes [${t.offset}, ${t.offset + t.byteLength}) lie outside the ${bytes.byteLength}-byte file${bytes.byteLength === 0 ? ' (file closed?)' : ''}`);
  }
  return bytes.subarray(t.offset, t.offset + t.byteLength);
}

/** A view when aligned, else an aligned copy. */
function typedView<T>(raw: Uint8Array, elementBytes: number, make: (buf: ArrayBuffer, off: number, len: number) => T): T {
  const len = raw.byteLength / elementBytes;
  if ((raw.byteOffset % elementBytes) === 0) return make(raw.buffer as ArrayBuffer, raw.byteOffset, len);
  return make(raw.slice().buffer as ArrayBuffer, 0, len);
}

function transpose<T extends Float32Array | Uint16Array>(src: T, rows: number, cols: number, make: (n: number) => T): T {
  // src is [cols, rows] (stored [in, out]); out is [rows, cols]
  const out = make(src.length);
  for (let i = 0; i < cols; i++) for (let j = 0; j < rows; j++) out[j * cols + i] = src[i * rows + j]!;
  return out;
}

/** The tensor as backend `Weights` ([rows, cols] = [product of outer dims, innermost dim]). */
export function tensorWeights(bytes: Uint8Array, t: TensorEntry): Weights {
  const dtype = servedDType(t.type);
  if (!dtype) throw new FormatError(cannotComputeMessage(t.name, t.type));
  const type = weightType(dtype);
  const { rows, cols } = rowsCols(t);
  if (cols % type.blockSize !== 0) {
    throw new FormatError(`tensor '${t.name}': its rows of ${cols} ${t.type} values are not whole blocks of ${type.blockSize}`);
  }
  const expected = rows * rowBytes(type, cols);
  if (t.byteLength !== expected) {
    throw new FormatError(`tensor '${t.name}': ${t.byteLength} bytes of ${t.type} data, but [${rows}, ${cols}] needs ${expected}`);
  }
  const raw = rawBytes(bytes, t);
  let data: Float32Array | Uint16Array | Uint8Array;
  switch (type.storage) {
    case 'f32': data = typedView(raw, 4, (b, o, n) => new Float32Array(b, o, n)); break;
    case 'u16': data = typedView(raw, 2, (b, o, n) => new Uint16Array(b, o, n)); break;
    default: data = raw; break;
  }
  if (t.transposed) {
    if (data instanceof Float32Array) data = transpose(data, rows, cols, (n) => new Float32Array(n));
    else if (data instanceof Uint16Array) data = transpose(data, rows, cols, (n) => new Uint16Array(n));
    else throw new FormatError(`tensor '${t.name}': cannot transpose quantized data`);
  }
  return { dtype, rows, cols, data };
}

/** The tensor as f32 values (norm weights, biases, position tables): a view for F32, else converted (a copy). */
export function tensorF32(bytes: Uint8Array, t: TensorEntry): Float32Array {
  return dequantizeWeights(tensorWeights(bytes, t));
}

