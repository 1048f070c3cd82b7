/**
 * The built-in engine: serves our Llama / GPT-2 models (ts/models) with a slotted KV cache.
 * Filled in when the model code lands on main.
 */
import type { EngineLoadOptions, LoadedEngine } from './engine.js';

export function loadEngine(_opts: EngineLoadOptions): LoadedEngine {
  throw new Error('tensorloom: the built-in model engine is not available in this build yet (ts/models has not landed)');
}
