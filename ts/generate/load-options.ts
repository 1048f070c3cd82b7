import type { BackendName } from '../backend/index.js';
import type { ModelSourceOptions } from '../hub/model-source.js';
import type { KVDType } from '../layers/kv-cache.js';
import type { ModelLoadProgress } from './load-progress.js';

/**
 * The model options, plus where it comes from (token, cacheDir, … for hf: and URL models).
 * `signal` cancels the download and the load (the worker is terminated; AbortError); once loaded,
 * the model no longer listens to it.
 */
export interface LoadModelOptions extends Omit<ModelSourceOptions, 'onProgress'> {
  /** Download progress (hf: and URL models not cached yet), then load progress: see ./load-progress.ts. */
  onProgress?: (progress: ModelLoadProgress) => void;
  /** Tokenizer file (llama2.c tokenizer.bin, tokenizer.json, …); default: the one in or next to the model file. */
  tokenizer?: string;
  /** Threads for the native kernels. Default: physical cores. */
  threads?: number;
  /** 'native' (default when the addon loads) or 'js'. */
  backend?: BackendName;
  /** KV cache capacity in tokens. Default: the model's context, at most 4096. */
  contextLength?: number;
  /** KV cache storage. Default 'f32'. */
  kvCache?: KVDType;
  /** Most prompt tokens per forward chunk. Default 256. */
  maxBatch?: number;
  /**
   * Sliding-window layers keep only a ring of window + maxBatch − 1 positions in the KV cache
   * (default true); false keeps every position.
   */
  trimSlidingWindow?: boolean;
  /** Embedding models: most tokens in one packed forward pass (texts are grouped up to this). Default 2048. */
  maxBatchTokens?: number;
  /**
   * How the weights are held in memory. 'auto' (default, or TENSORLOOM_IO): memory-mapped, in
   * 2 MiB pages where the page cache allows; 'huge': the weights decode streams whole moved to
   * private anonymous 2 MiB pages, faster decode when the file is already cached in 4 KiB pages
   * (1B q8_0, 1 thread, here: ~1.3-1.4× the tokens per CPU-second) for a longer load (a copy of
   * those weights) and no sharing of them between processes; 'read': plain reads into memory;
   * 'mmap': a mapping or an error.
   */
  io?: 'auto' | 'read' | 'mmap' | 'huge';
  /** Run the model in a worker thread (default true), so generation never blocks the event loop. */
  worker?: boolean;
}
