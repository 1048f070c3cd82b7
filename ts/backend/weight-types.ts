/**
 * The weight types tensorloom computes with, in one table (ggml's `type_traits`): per type the GGML
 * type id, how many elements one block packs into how many bytes, the typed array that holds the
 * data, and the activation type its dot product takes. Everything else that needs to know a type
 * (GGUF loading, weight views, both backends, the converter, the native bindings) reads it here.
 *
 * Contract with the native addon: a weight matrix crosses N-API as its GGML type id (a number)
 * plus its data: Float32Array for f32, Uint16Array (raw bits) for f16/bf16, and the raw block
 * bytes (Uint8Array) for every quantized type, laid out exactly as in a GGUF file.
 *
 * Adding a type: one row here, its dequantize/quantize rows (ts/backend/js/quants/), its kernels.
 */

/** Storage types of weights (and of the KV cache, for f32/f16). */
export type DType =
  | 'f32' | 'f16' | 'bf16'
  | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'q8_0'
  | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k'
  | 'iq4_nl' | 'iq4_xs';

/**
 * What a weight type's dot product multiplies against (ggml's vec_dot_type): f32 activations, f16 /
 * bf16 (activations rounded to the weight's float type), or activations quantized once per matmul
 * input to Q8_0 (32-blocks, f16 scale), Q8_1 (32-blocks, f16 scale and f16 d·Σq) or Q8_K
 * (256-blocks, f32 scale, int16 sums of each 16 values).
 */
export type ActivationType = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q8_1' | 'q8_k';

/** The activation types that are block quantizations. */
export type QuantizedActivationType = Exclude<ActivationType, 'f32' | 'f16' | 'bf16'>;

/** How a type's data is held in JS: Float32Array, Uint16Array of raw bits, or raw block bytes. */
export type StorageKind = 'f32' | 'u16' | 'blocks';

export interface WeightType {
  readonly name: DType;
  /** `enum ggml_type` in ggml.h: the number GGUF files store and the native addon takes. */
  readonly ggmlId: number;
  /** The type's name in ggml (GGUF tooling, error messages). */
  readonly ggmlName: string;
  /** Elements per block; a row's length must be a multiple of it. 1 for the float types. */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  readonly storage: StorageKind;
  /** The activation type its dot product takes (ggml's `vec_dot_type`). */
  readonly activation: ActivationType;
  /** A K-quant layout (256-element super-blocks with sub-block scales). */
  readonly superBlock: boolean;
}

const row = (
  name: DType, ggmlId: number, ggmlName: string, blockSize: number, blockBytes: number,
  activation: ActivationType,
): WeightType => ({
  name, ggmlId, ggmlName, blockSize, blockBytes, activation,
  storage: name === 'f32' ? 'f32' : name === 'f16' || name === 'bf16' ? 'u16' : 'blocks',
  superBlock: blockSize === 256,
});

/** The table. Block layouts (bytes, in order) are described where each type is decoded. */
export const WEIGHT_TYPES: Readonly<Record<DType, WeightType>> = {
  f32: row('f32', 0, 'F32', 1, 4, 'f32'),
  f16: row('f16', 1, 'F16', 1, 2, 'f16'),
  bf16: row('bf16', 30, 'BF16', 1, 2, 'bf16'),
  // legacy 32-element blocks: f16 d (+ f16 m for the _1 types) (+ 4 bytes of 5th bits) + codes
  q4_0: row('q4_0', 2, 'Q4_0', 32, 18, 'q8_0'),
  q4_1: row('q4_1', 3, 'Q4_1', 32, 20, 'q8_1'),
  q5_0: row('q5_0', 6, 'Q5_0', 32, 22, 'q8_0'),
  q5_1: row('q5_1', 7, 'Q5_1', 32, 24, 'q8_1'),
  q8_0: row('q8_0', 8, 'Q8_0', 32, 34, 'q8_0'),
  // K-quants: 256-element super-blocks
  q2_k: row('q2_k', 10, 'Q2_K', 256, 84, 'q8_k'),
  q3_k: row('q3_k', 11, 'Q3_K', 256, 110, 'q8_k'),
  q4_k: row('q4_k', 12, 'Q4_K', 256, 144, 'q8_k'),
  q5_k: row('q5_k', 13, 'Q5_K', 256, 176, 'q8_k'),
  q6_k: row('q6_k', 14, 'Q6_K', 256, 210, 'q8_k'),
  // non-linear 4-bit codebook
  iq4_nl: row('iq4_nl', 20, 'IQ4_NL', 32, 18, 'q8_0'),
  iq4_xs: row('iq4_xs', 23, 'IQ4_XS', 256, 136, 'q8_k'),
};

/** Every weight type, in table order. */
export const DTYPES: readonly DType[] = Object.keys(WEIGHT_TYPES) as DType[];

/** The activation block types (not weight types: tensorloom never stores weights in them). */
export interface ActivationBlockType {
  readonly name: QuantizedActivationType;
  readonly ggmlId: number;
  readonly ggmlName: string;
  readonly blockSize: number;
  readonly blockBytes: number;
}

export const ACTIVATION_TYPES: Readonly<Record<QuantizedActivationType, ActivationBlockType>> = {
  q8_0: { name: 'q8_0', ggmlId: 8, ggmlName: 'Q8_0', blockSize: 32, blockBytes: 34 }, // f16 d, 32 × int8
  q8_1: { name: 'q8_1', ggmlId: 9, ggmlName: 'Q8_1', blockSize: 32, blockBytes: 36 }, // f16 d, f16 s = d·Σq, 32 × int8
  q8_k: { name: 'q8_k', ggmlId: 15, ggmlName: 'Q8_K', blockSize: 256, blockBytes: 292 }, // f32 d, 256 × int8, 16 × int16 sums
};

const BY_GGML_ID = new Map<number, WeightType>();
for (const t of Object.values(WEIGHT_TYPES)) BY_GGML_ID.set(t.ggmlId, t);

/** Whether `name` is a weight type tensorloom computes with. */
export function isDType(name: unknown): name is DType {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(WEIGHT_TYPES, name);
}

/** The table row of a type; a TypeError/RangeError naming `what` for anything else. */
export function weightType(name: unknown, what = 'dtype'): WeightType {
  if (typeof name !== 'string') throw new TypeError(`tensorloom: ${what} must be a string: one of ${DTYPES.join(' | ')}`);
  if (!isDType(name)) throw new RangeError(`tensorloom: ${what} must be one of ${DTYPES.join(' | ')}, got '${name}'`);
  return WEIGHT_TYPES[name];
}

/** The weight type with this GGML id, or undefined when tensorloom cannot compute with it. */
export function typeByGgmlId(id: number): WeightType | undefined {
  return BY_GGML_ID.get(id);
}

/** The weight type with this GGML name ('Q4_K', …), or undefined. */
export function typeByGgmlName(ggmlName: string): WeightType | undefined {
  for (const t of Object.values(WEIGHT_TYPES)) if (t.ggmlName === ggmlName) return t;
  return undefined;
}

/** Bytes of one row of `cols` elements; a RangeError when cols is not a multiple of the block. */
export function rowBytes(type: DType | WeightType, cols: number): number {
  const t = typeof type === 'string' ? weightType(type) : type;
  if (!Number.isInteger(cols) || cols < 0) throw new RangeError(`tensorloom: row length must be a non-negative integer, got ${cols}`);
  if (cols % t.blockSize !== 0) {
    throw new RangeError(`tensorloom: a ${t.name} row holds whole blocks of ${t.blockSize} elements; ${cols} is not a multiple of ${t.blockSize}`);
  }
  return (cols / t.blockSize) * t.blockBytes;
}

/**
 * Length of a `[rows, cols]` matrix's data in its typed array's elements (floats for f32, u16 for
 * f16/bf16, bytes for block types). Throws like rowBytes.
 */
export function dataLength(type: DType | WeightType, rows: number, cols: number): number {
  const t = typeof type === 'string' ? weightType(type) : type;
  const bytes = rows * rowBytes(t, cols);
  return t.storage === 'f32' ? bytes / 4 : t.storage === 'u16' ? bytes / 2 : bytes;
}

/** Typed-array elements per row (see dataLength). */
export function rowLength(type: DType | WeightType, cols: number): number {
  return dataLength(type, 1, cols);
}

/** The typed-array constructor a type's data must come in. */
export function storageArray(type: DType | WeightType): typeof Float32Array | typeof Uint16Array | typeof Uint8Array {
  const t = typeof type === 'string' ? weightType(type) : type;
  return t.storage === 'f32' ? Float32Array : t.storage === 'u16' ? Uint16Array : Uint8Array;
}

/** The message for a stored type tensorloom has no kernels for (named by the tensor that has it). */
export function cannotComputeMessage(tensor: string, ggmlName: string): string {
  const supported = Object.values(WEIGHT_TYPES).map((t) => t.ggmlName).join(', ');
  return `tensor '${tensor}' has type ${ggmlName}, which tensorloom cannot compute with (supported: ${supported})`;
}
