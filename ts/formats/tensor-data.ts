/**
 * Typed-array views of tensors inside a loaded file (see ./mapped-file.ts), in the shapes the
 * backend takes (`Weights` in ts/backend/types.ts):
 *   F32 → Float32Array, F16 / BF16 → Uint16Array (raw bits), Q8_0 → Uint8Array (34-byte blocks),
 *   Q4_0 → converted to Q8_0 at load (exact; no Q4_0 kernel yet).
 * A view shares the file's memory when the tensor's offset is aligned to its element size; only an
 * unaligned tensor (possible in safetensors) is copied. Other ggml types (K-quants, …) are listed
 * by the readers but cannot be viewed: a clear error says so.
 */
import type { DType, Weights } from '../backend/types.js';
import { FormatError } from './byte-source.js';
import { bf16ArrayToF32, dequantizeQ8_0, f16ArrayToF32, q4_0ToQ8_0 } from './dtype-convert.js';
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

const ELEMENT_BYTES: Partial<Record<GGMLTypeName, number>> = { F32: 4, F16: 2, BF16: 2, Q8_0: 1, Q4_0: 1 };

/** The backend dtype a stored type is served as. */
export function servedDType(type: GGMLTypeName): DType | null {
  switch (type) {
    case 'F32': return 'f32';
    case 'F16': return 'f16';
    case 'BF16': return 'bf16';
    case 'Q8_0': case 'Q4_0': return 'q8_0';
    default: return null;
  }
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
  if (!dtype) throw new FormatError(`tensor '${t.name}' has type ${t.type}, which tensorloom cannot compute with (supported: F32, F16, BF16, Q8_0, Q4_0)`);
  const { rows, cols } = rowsCols(t);
  const raw = rawBytes(bytes, t);
  let data: Float32Array | Uint16Array | Uint8Array;
  switch (t.type) {
    case 'F32': data = typedView(raw, 4, (b, o, n) => new Float32Array(b, o, n)); break;
    case 'F16': case 'BF16': data = typedView(raw, 2, (b, o, n) => new Uint16Array(b, o, n)); break;
    case 'Q8_0': data = raw; break;
    default: data = q4_0ToQ8_0(raw); break; // Q4_0
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
  const w = tensorWeights(bytes, t);
  switch (w.dtype) {
    case 'f32': return w.data as Float32Array;
    case 'f16': return f16ArrayToF32(w.data as Uint16Array);
    case 'bf16': return bf16ArrayToF32(w.data as Uint16Array);
    default: return dequantizeQ8_0(w.data as Uint8Array);
  }
}

/** Bytes per element of a stored type (for aligned-view checks), when it has a typed view. */
export function elementBytes(type: GGMLTypeName): number | undefined {
  return ELEMENT_BYTES[type];
}
