import { expectDim } from '../checks.js';
import type { Backend, BackendInfo } from '../types.js';
import { jsAttention } from './attention.js';
import { jsConversions } from './conversions.js';
import { jsElementwise } from './elementwise.js';
import { jsLinearAttention } from './linear-attention.js';
import { jsMatmul } from './matmul.js';
import { jsMoE } from './moe.js';
import { jsScaledRope } from './rope-scaled.js';
import { jsSampling } from './sampling.js';

/**
 * The pure-TypeScript backend: plain loops, single-threaded. It is the baseline the native
 * kernels are tested and benchmarked against, and the fallback when the addon cannot load.
 */
export function createJsBackend(fallbackReason?: string): Backend {
  const info = (): BackendInfo => ({
    backend: 'js',
    isa: 'js',
    detectedIsa: 'js',
    threads: 1,
    ...(fallbackReason ? { fallbackReason } : {}),
  });
  const base = {
    name: 'js' as const,
    info,
    setThreads: () => 1,
    allocate(bytes: number): ArrayBuffer {
      expectDim('allocate: bytes', bytes, 0, 2 ** 50);
      return new ArrayBuffer(bytes);
    },
    ...jsMatmul,
    ...jsAttention,
    ...jsScaledRope,
    ...jsElementwise,
    ...jsLinearAttention,
    ...jsConversions,
    ...jsSampling,
  };
  return { ...base, ...jsMoE(base) };
}
