/**
 * ggml's tensor storage types, keyed by the numeric id GGUF files store (ggml.h `enum ggml_type`).
 * Each type packs `blockSize` elements into `blockBytes` bytes; a tensor's innermost dimension
 * must be a multiple of `blockSize`. Ids 4, 5 (removed Q4_2/Q4_3) and 31–33 (removed Q4_0_4_4 …)
 * are retired and rejected like any unknown id.
 */
import { ACTIVATION_TYPES, WEIGHT_TYPES } from '../backend/weight-types.js';

export interface GGMLTypeInfo {
  readonly id: number;
  readonly name: GGMLTypeName;
  readonly blockSize: number;
  readonly blockBytes: number;
}

export type GGMLTypeName =
  | 'F32' | 'F16' | 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1' | 'Q8_0' | 'Q8_1'
  | 'Q2_K' | 'Q3_K' | 'Q4_K' | 'Q5_K' | 'Q6_K' | 'Q8_K'
  | 'IQ2_XXS' | 'IQ2_XS' | 'IQ3_XXS' | 'IQ1_S' | 'IQ4_NL' | 'IQ3_S' | 'IQ2_S' | 'IQ4_XS'
  | 'I8' | 'I16' | 'I32' | 'I64' | 'F64' | 'IQ1_M' | 'BF16' | 'TQ1_0' | 'TQ2_0' | 'MXFP4';

/**
 * The types tensorloom cannot compute with (besides the activation types Q8_1, Q8_K), known here only so a file holding them can be listed
 * and sized. The types it computes with come from the weight-type table (ts/backend/weight-types.ts).
 */
const OTHER_TYPES: ReadonlyArray<readonly [number, GGMLTypeName, number, number]> = [
  [16, 'IQ2_XXS', 256, 66],
  [17, 'IQ2_XS', 256, 74],
  [18, 'IQ3_XXS', 256, 98],
  [19, 'IQ1_S', 256, 50],
  [21, 'IQ3_S', 256, 110],
  [22, 'IQ2_S', 256, 82],
  [24, 'I8', 1, 1],
  [25, 'I16', 1, 2],
  [26, 'I32', 1, 4],
  [27, 'I64', 1, 8],
  [28, 'F64', 1, 8],
  [29, 'IQ1_M', 256, 56],
  [34, 'TQ1_0', 256, 54],
  [35, 'TQ2_0', 256, 66],
  [39, 'MXFP4', 32, 17],
];

const TABLE: ReadonlyArray<readonly [number, GGMLTypeName, number, number]> = [
  ...Object.values(WEIGHT_TYPES).map((t) => [t.ggmlId, t.ggmlName as GGMLTypeName, t.blockSize, t.blockBytes] as const),
  ...Object.values(ACTIVATION_TYPES).filter((t) => t.name !== 'q8_0')
    .map((t) => [t.ggmlId, t.ggmlName as GGMLTypeName, t.blockSize, t.blockBytes] as const),
  ...OTHER_TYPES,
];

const BY_ID = new Map<number, GGMLTypeInfo>();
const BY_NAME = new Map<GGMLTypeName, GGMLTypeInfo>();
for (const [id, name, blockSize, blockBytes] of TABLE) {
  const info: GGMLTypeInfo = { id, name, blockSize, blockBytes };
  BY_ID.set(id, info);
  BY_NAME.set(name, info);
}

/** The type with this GGUF id, or undefined for an unknown/retired id. */
export function ggmlTypeById(id: number): GGMLTypeInfo | undefined {
  return BY_ID.get(id);
}

export function ggmlTypeByName(name: GGMLTypeName): GGMLTypeInfo {
  const info = BY_NAME.get(name);
  if (!info) throw new Error(`unknown ggml type '${name}'`);
  return info;
}

/** Bytes taken by `elements` values of this type (elements must be a multiple of blockSize). */
export function ggmlByteLength(type: GGMLTypeInfo, elements: number): number {
  return (elements / type.blockSize) * type.blockBytes;
}
