/** Where model files come from: the built-in default model, the hub, URLs, and the local cache. */
export { DEFAULT_MODEL_NAME, defaultModelPath } from './default-model.js';
export { defaultCacheDir } from './cache-dir.js';
export { ModelFetchError, type ModelFetchErrorCode } from './errors.js';
export { parseModelRef, isRemoteRef, type ModelRef } from './model-ref.js';
export { resolveModelFile, type ResolveModelOptions, type DownloadProgress } from './resolve-model.js';
export { listCachedModels, removeCachedModel, type CachedModel } from './cache-entries.js';
export type { ModelSourceOptions } from './model-source.js';
