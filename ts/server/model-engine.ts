/**
 * The built-in engine: serves our Llama / GPT-2 models (ts/models) with a slotted KV cache.
 * Filled in when the model code lands on main.
 */
import type { EngineLoadOptions, LoadedEngine } from './engine.js';

export function loadEngine(opts: EngineLoadOptions): LoadedEngine {
  throw new Error(`tensorloom: cannot serve '${opts.model}': the built-in model engine needs ts/models, which is not in this build yet`);
}
