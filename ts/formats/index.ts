/**
 * Model file formats: GGUF (read + write), safetensors, llama2.c, and the common model view.
 * See model-file.ts for the tensor names (GGUF's) and ts/models for the families that read them.
 */
export { FormatError } from './byte-source.js';
export * from './gguf.js';
export { ggmlTypeById, ggmlTypeByName, type GGMLTypeInfo, type GGMLTypeName } from './ggml-types.js';
export { readSafetensors, readSafetensorsIndex, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';
export { readLlama2c, readLlama2cTokenizer, type Llama2cConfig, type Llama2cModel, type Llama2cTokenizer } from './llama2c.js';
export { openFileBytes, type FileBytes } from './mapped-file.js';
export { tensorWeights, tensorF32, servedDType, type TensorEntry } from './tensor-data.js';
export { openModelFile, findLlama2cTokenizer, type ModelFile, type ModelFormat, type TensorRename, type TokenizerSource, type OpenModelOptions } from './model-file.js';
export { encodeGGUF, writeGGUF, type GGUFWriteInput, type GGUFWriteTensor, type GGUFWriteValue, type TypedValue } from './gguf-writer.js';
export { encodeSafetensors, writeSafetensors, type SafetensorsWriteTensor, type SafetensorsDType } from './safetensors-writer.js';
export { convertToGGUF, ggufFromModel, type ConvertOptions, type ConvertTarget, type ConvertType } from './convert.js';
export { describeModel, type ModelSummary } from './describe.js';
