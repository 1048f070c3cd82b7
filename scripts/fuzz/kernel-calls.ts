/**
 * One valid call of every backend op, with each typed-array argument's name as the backends'
 * errors spell it. The SharedArrayBuffer test (test/hardening/kernel-buffers.test.ts) swaps one
 * argument at a time for a shared copy; the kernel fuzzer (./targets/kernels.ts) mutates them.
 */
import type { Backend, Weights } from '../../ts/backend/types.js';

export interface KernelCall {
  op: keyof Backend;
  /** Fresh valid arguments (typed arrays are newly allocated each time). */
  args: () => unknown[];
  /** Typed arrays among the arguments: [path to the array, the name errors use]. A path is [argIndex] or [argIndex, 'data']. */
  arrays: readonly { at: readonly [number] | readonly [number, 'data']; name: RegExp }[];
}

const f32 = (n: number, seed = 1): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 0.5);
const weights = (rows: number, cols: number): Weights => ({ dtype: 'f32', rows, cols, data: f32(rows * cols, 3) });
const a = (i: number, name: string): KernelCall['arrays'][number] => ({ at: [i], name: new RegExp(`\\b${name}\\b`) });

export const KERNEL_CALLS: readonly KernelCall[] = [
  { op: 'matmulT', args: () => [new Float32Array(2 * 8), f32(2 * 16), weights(8, 16), 2], arrays: [a(0, 'out'), a(1, 'a'), { at: [2, 'data'], name: /w\.data|w\b/ }] },
  { op: 'matmul', args: () => [new Float32Array(2 * 4), f32(2 * 3), f32(3 * 4, 2), 2, 3, 4], arrays: [a(0, 'out'), a(1, 'a'), a(2, 'b')] },
  {
    op: 'attention',
    args: () => [new Float32Array(2 * 2 * 4), f32(2 * 2 * 4), f32(3 * 1 * 4, 2), f32(3 * 1 * 4, 3), { T: 2, S: 3, H: 2, Hkv: 1, D: 4, posOffset: 1 }],
    arrays: [a(0, 'out'), a(1, 'q'), a(2, 'k'), a(3, 'v')],
  },
  { op: 'rope', args: () => [f32(2 * 2 * 4), 2, 2, 4, 0, { theta: 10000, layout: 'interleaved' }], arrays: [a(0, 'x')] },
  { op: 'rmsnorm', args: () => [new Float32Array(8), f32(8), f32(4, 2), 2, 4, 1e-5], arrays: [a(0, 'out'), a(1, 'x'), a(2, 'weight')] },
  { op: 'layernorm', args: () => [new Float32Array(8), f32(8), f32(4, 2), f32(4, 3), 2, 4, 1e-5], arrays: [a(0, 'out'), a(1, 'x'), a(2, 'weight'), a(3, 'bias')] },
  { op: 'softmax', args: () => [new Float32Array(8), f32(8), 2, 4, 1], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'gelu', args: () => [new Float32Array(8), f32(8), 'tanh'], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'silu', args: () => [new Float32Array(8), f32(8)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'swiglu', args: () => [new Float32Array(8), f32(8), f32(8, 2)], arrays: [a(0, 'out'), a(1, 'gate'), a(2, 'up')] },
  { op: 'add', args: () => [new Float32Array(8), f32(8), f32(8, 2)], arrays: [a(0, 'out'), a(1, 'a'), a(2, 'b')] },
  { op: 'mul', args: () => [new Float32Array(8), f32(8), f32(8, 2)], arrays: [a(0, 'out'), a(1, 'a'), a(2, 'b')] },
  { op: 'embedding', args: () => [new Float32Array(2 * 4), weights(5, 4), Int32Array.from([1, 4])], arrays: [a(0, 'out'), { at: [1, 'data'], name: /table/ }, a(2, 'ids')] },
  { op: 'argmax', args: () => [f32(9)], arrays: [a(0, 'x')] },
  { op: 'sampleWeights', args: () => [new Float32Array(9), f32(9), 1.25], arrays: [a(0, 'prob'), a(1, 'logits')] },
  { op: 'sampleDraw', args: () => [Float32Array.from({ length: 9 }, (_, i) => 1 / (i + 1)), 9, 1.5], arrays: [a(0, 'prob')] },
  { op: 'f32ToF16', args: () => [new Uint16Array(8), f32(8)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'f16ToF32', args: () => [new Float32Array(8), Uint16Array.from({ length: 8 }, (_, i) => 0x3c00 + i)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'f32ToBf16', args: () => [new Uint16Array(8), f32(8)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'bf16ToF32', args: () => [new Float32Array(8), Uint16Array.from({ length: 8 }, (_, i) => 0x3f80 + i)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'quantizeQ8_0', args: () => [new Uint8Array(34), f32(32)], arrays: [a(0, 'out'), a(1, 'x')] },
  { op: 'dequantizeQ8_0', args: () => [new Float32Array(32), new Uint8Array(34).fill(1)], arrays: [a(0, 'out'), a(1, 'x')] },
];

/** The array at `at` in `args`. */
export function arrayAt(args: unknown[], at: KernelCall['arrays'][number]['at']): ArrayBufferView {
  const v = args[at[0]];
  if (at.length === 1) return v as ArrayBufferView;
  return (v !== null && typeof v === 'object' ? (v as { data?: ArrayBufferView }).data : undefined) as ArrayBufferView;
}

/** Replaces the array at `at` with `value` (copying a Weights object rather than changing it). */
export function setArrayAt(args: unknown[], at: KernelCall['arrays'][number]['at'], value: unknown): void {
  if (at.length === 2) args[at[0]] = { ...(args[at[0]] as object), data: value };
  else args[at[0]] = value;
}

/** A copy of a typed array over a SharedArrayBuffer. */
export function sharedCopy(v: ArrayBufferView): ArrayBufferView {
  const Ctor = v.constructor as new (b: SharedArrayBuffer) => ArrayBufferView & { set(x: ArrayLike<number>): void };
  const bytes = (v as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  const out = new Ctor(new SharedArrayBuffer(v.byteLength - (v.byteLength % bytes)));
  try {
    out.set(v as unknown as ArrayLike<number>);
  } catch {
    /* v is detached or out of bounds: the shared copy stays zero */
  }
  return out;
}
