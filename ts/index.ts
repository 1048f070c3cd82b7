/**
 * tensorloom: fast transformer inference for Node.js.
 * @packageDocumentation
 */
export { getBackend, backendInfo, setIsa, setThreads } from './backend/index.js';
export type * from './backend/types.js';
export { Q8_0_BLOCK, Q8_0_BLOCK_BYTES } from './backend/types.js';
export { createServer, Scheduler, QueueFullError, RequestError, UnavailableError, AbortError } from './server/index.js';
export type { ServeHandler, ServeOptions, GenerateOptions as ServeGenerateOptions, GenerateResult as ServeGenerateResult, SchedulerOptions } from './server/index.js';
export * from './tokenizers/index.js';
export * from './formats/index.js';
export { assertCudaAvailable, cudaStatus, getCudaBackend } from './backend/cuda/index.js';
export type { CudaBackend, CudaStatus, DeviceWeights } from './backend/cuda/index.js';
