/**
 * What `loadModel(path, { onProgress })` reports: first the download of an hf: or URL model (when
 * it is not cached yet), then the loading itself. Each phase's `fraction` rises monotonically from
 * 0 to 1; the load phase always ends with exactly one event of fraction 1 (the model is ready).
 */
import type { DownloadProgress } from '../hub/resolve-model.js';

/** Bytes arriving for one file of the model (`fraction` of that file; 0 while its size is unknown). */
export interface DownloadPhaseProgress extends DownloadProgress {
  phase: 'download';
  fraction: number;
}

/**
 * The model being built from its file: `layersBuilt` of `layers` transformer blocks have their
 * weights in place (the work that dominates loading); `fraction` counts the file's opening as 5 %,
 * reading the tensor table as 5 %, the blocks as 85 % and the tokenizer and head as the last 5 %.
 */
export interface LoadPhaseProgress {
  phase: 'load';
  step: 'open' | 'tensors' | 'layers' | 'ready';
  layersBuilt: number;
  layers: number;
  /** Tensors in the file and their bytes (known once the file is open; 0 before). */
  tensors: number;
  tensorBytes: number;
  fraction: number;
}

export type ModelLoadProgress = DownloadPhaseProgress | LoadPhaseProgress;

/** The download callback resolveModelFile takes, reporting in the unified shape. */
export function downloadReporter(onProgress: (p: ModelLoadProgress) => void): (p: DownloadProgress) => void {
  return (p) => onProgress({ ...p, phase: 'download', fraction: p.totalBytes ? Math.min(1, p.receivedBytes / p.totalBytes) : 0 });
}

/** Keeps the reported fraction monotonic (a caller never sees it go back). */
export function loadReporter(onProgress: (p: LoadPhaseProgress) => void): (p: Omit<LoadPhaseProgress, 'phase'>) => void {
  let last = 0;
  return (p) => {
    last = Math.max(last, Math.min(1, p.fraction));
    onProgress({ phase: 'load', ...p, fraction: last });
  };
}
