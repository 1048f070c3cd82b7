/**
 * Transformer building blocks over a Backend. Each class holds its weights and runs its kernels
 * synchronously into caller-provided (or Workspace) buffers; compose them into any decoder.
 */
export { Workspace } from './workspace.js';
export { Linear } from './linear.js';
export { Embedding } from './embedding.js';
export { RMSNorm } from './rmsnorm.js';
export { LayerNorm } from './layernorm.js';
export { KVCache, type KVCacheOptions, type KVDType } from './kv-cache.js';
export { Attention, type AttentionOptions } from './attention.js';
export { MLP, type MLPOptions } from './mlp.js';
export { Block, type Norm } from './block.js';
export { sequenceStep, type Step, type StepSequence } from './step.js';
export { RopeTable, llama3FreqFactors, type RopeScaling, type ScaledRopeOptions } from './rope-table.js';
export { MoE, type Expert, type MoEOptions } from './moe.js';
