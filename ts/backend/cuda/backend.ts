/**
 * The CUDA backend. Two layers:
 * - `device`: ops on DeviceBuffer / DeviceWeights, with no host round trip — what a model's
 *   decode step uses (weights and KV cache stay resident, only the token ids go up and the logits
 *   or the argmax come down).
 * - host-array ops with the same signatures as the CPU Backend (ts/backend/types.ts): inputs are
 *   uploaded to temporary buffers, the op runs, `out` is downloaded. For tests, and for callers that
 *   keep only the weights resident (matmulT and embedding also accept DeviceWeights).
 */
import type { NativeAddon } from '../../native/addon.js';
import { expectArray, expectDim, expectLength } from '../checks.js';
import type { AttentionShape, Backend, GeluApproximation, RopeOptions, Weights } from '../types.js';
import { type CudaDeviceDescription, cudaWTypeCode, ROPE_LAYOUT_CODE } from './addon.js';
import { dataLength, storageArray } from '../weight-types.js';
import { DeviceBuffer, type DeviceWeights, isDeviceWeights } from './device.js';

export interface CudaBackendInfo {
  backend: 'cuda';
  device: CudaDeviceDescription;
  /** Path of the addon binary that holds the CUDA kernels. */
  addonPath: string;
  /** What serves GEMMs with M > 8: "cuBLAS (<lib>)" or "own kernels (<why>)". */
  gemm: string;
}

/**
 * The CUDA attention kernel has no packed batches, soft-capping or position bias yet: refuse them
 * by name instead of computing something else.
 */
function refuseCpuOnlyAttention(shape: AttentionShape): void {
  for (const key of ['positionBias', 'softcap', 'sequences'] as const) {
    if (shape[key] !== undefined && !(key === 'softcap' && shape.softcap === 0)) {
      throw new RangeError(`tensorloom: the CUDA backend's attention does not support AttentionShape.${key} yet (use the CPU backend)`);
    }
  }
}

/** AttentionShape plus the storage type of the KV cache buffers (default f32). */
export interface CudaAttentionShape extends AttentionShape {
  kvDtype?: 'f32' | 'f16';
}

/** Ops on device-resident buffers. Shapes as in ts/backend/types.ts; all data f32 unless stated. */
export interface CudaDeviceOps {
  /** out[M, N] = a[M, K] · wᵀ (N = w.rows, K = w.cols). */
  matmulT(out: DeviceBuffer, a: DeviceBuffer, w: DeviceWeights, M: number): void;
  matmul(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, M: number, K: number, N: number): void;
  /** q, out: [T, H, D]; k, v: [S, Hkv, D] of shape.kvDtype (buffers may be larger: a KV cache). */
  attention(out: DeviceBuffer, q: DeviceBuffer, k: DeviceBuffer, v: DeviceBuffer, shape: CudaAttentionShape): void;
  rope(x: DeviceBuffer, T: number, nHeads: number, D: number, posOffset: number, rope: RopeOptions): void;
  rmsnorm(out: DeviceBuffer, x: DeviceBuffer, weight: DeviceBuffer, rows: number, dim: number, eps: number): void;
  layernorm(out: DeviceBuffer, x: DeviceBuffer, weight: DeviceBuffer, bias: DeviceBuffer | null, rows: number, dim: number, eps: number): void;
  softmax(out: DeviceBuffer, x: DeviceBuffer, rows: number, cols: number, temperature?: number): void;
  gelu(out: DeviceBuffer, x: DeviceBuffer, n: number, approximation?: GeluApproximation): void;
  silu(out: DeviceBuffer, x: DeviceBuffer, n: number): void;
  swiglu(out: DeviceBuffer, gate: DeviceBuffer, up: DeviceBuffer, n: number): void;
  add(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void;
  mul(out: DeviceBuffer, a: DeviceBuffer, b: DeviceBuffer, n: number): void;
  /** out: [ids.length, table.cols]; ids are host values, checked against table.rows. */
  embedding(out: DeviceBuffer, table: DeviceWeights, ids: Int32Array | Uint32Array): void;
  /** Index of the first largest of the first n elements (waits for the GPU). */
  argmax(x: DeviceBuffer, n: number): number;
  /**
   * n f32 values from src (at srcByteOffset) rounded to dtype into dst at dstByteOffset — e.g. a
   * step's new K/V rows into an f16 KV cache at row posOffset (byte offset posOffset·Hkv·D·2).
   */
  castF32(dst: DeviceBuffer, dstByteOffset: number, dtype: 'f32' | 'f16' | 'bf16', src: DeviceBuffer, srcByteOffset: number, n: number): void;
}

type HostOps = Pick<
  Backend,
  'matmul' | 'attention' | 'rope' | 'rmsnorm' | 'layernorm' | 'softmax' | 'gelu' | 'silu' | 'swiglu' | 'add' | 'mul' | 'argmax'
>;

export interface CudaBackend extends HostOps {
  readonly name: 'cuda';
  info(): CudaBackendInfo;
  readonly device: CudaDeviceOps;
  /** Uninitialized device memory. */
  alloc(bytes: number): DeviceBuffer;
  /** A new buffer holding a copy of `data`. */
  upload(data: ArrayBufferView): DeviceBuffer;
  /** Puts a weight matrix on the GPU in its own dtype (no conversion). */
  uploadWeights(w: Weights): DeviceWeights;
  /** Device-to-device copy (e.g. new K/V rows into a cache). */
  copy(dst: DeviceBuffer, dstByteOffset: number, src: DeviceBuffer, srcByteOffset: number, bytes: number): void;
  /** Waits for all queued GPU work; reports any asynchronous CUDA error. */
  synchronize(): void;
  /**
   * Lets cuBLAS (loaded at run time when installed) serve GEMMs with M > 8, or forces our own
   * kernels. Returns whether cuBLAS is now in use. Default: on when it loads.
   */
  useCublas(enabled: boolean): boolean;
  /**
   * Prefill attention against an f16 KV cache (D = 64 or 128) runs on tensor cores — Q and the
   * probabilities rounded to f16, f32 accumulation — unless switched off here. Default: on.
   */
  useTensorCoreAttention(enabled: boolean): boolean;
  /** Host-array matmul; w may already be resident (DeviceWeights). */
  matmulT(out: Float32Array, a: Float32Array, w: Weights | DeviceWeights, M: number): void;
  /** Host-array embedding gather; table may already be resident. */
  embedding(out: Float32Array, table: Weights | DeviceWeights, ids: Int32Array | Uint32Array): void;
}

function weightDataKind(w: Weights): typeof Float32Array | typeof Uint16Array | typeof Uint8Array {
  return storageArray(w.dtype);
}

function weightElements(w: { dtype: Weights['dtype']; rows: number; cols: number }): number {
  return dataLength(w.dtype, w.rows, w.cols);
}

function checkWeights(name: string, w: Weights): void {
  if (typeof w !== 'object' || w === null) throw new TypeError(`tensorloom: ${name} must be a Weights object`);
  cudaWTypeCode(w.dtype, `${name}.dtype`);
  expectDim(`${name}.rows`, w.rows);
  expectDim(`${name}.cols`, w.cols);
  expectArray(`${name}.data`, w.data, weightDataKind(w));
  expectLength(`${name}.data`, w.data, weightElements(w), `[${w.rows}, ${w.cols}] ${w.dtype}`);
}

function checkApproximation(approximation: unknown): void {
  if (approximation !== 'tanh' && approximation !== 'erf')
    throw new RangeError(`tensorloom: approximation must be 'tanh' or 'erf', got '${String(approximation)}'`);
}

function checkRope(rope: RopeOptions | undefined): void {
  if (rope === undefined) return;
  if (typeof rope !== 'object' || rope === null) throw new TypeError('tensorloom: rope must be a RopeOptions object');
  if (rope.layout !== 'interleaved' && rope.layout !== 'half')
    throw new RangeError(`tensorloom: rope.layout must be 'interleaved' or 'half', got '${String(rope.layout)}'`);
  if (typeof rope.theta !== 'number' || !(rope.theta > 0) || !Number.isFinite(rope.theta))
    throw new RangeError('tensorloom: rope.theta must be a finite number > 0');
}

function checkTemperature(temperature: number): void {
  if (typeof temperature !== 'number' || !(temperature > 0) || !Number.isFinite(temperature))
    throw new RangeError(`tensorloom: temperature must be a finite number > 0, got ${String(temperature)}`);
}

export function createCudaBackend(addon: NativeAddon, addonPath: string, device: CudaDeviceDescription): CudaBackend {
  const alloc = (bytes: number): DeviceBuffer => new DeviceBuffer(addon, bytes);
  const upload = (data: ArrayBufferView): DeviceBuffer => {
    const b = alloc(data.byteLength);
    try {
      b.write(data);
    } catch (err) {
      b.free();
      throw err;
    }
    return b;
  };
  const uploadWeights = (w: Weights): DeviceWeights => {
    checkWeights('weights', w);
    return { dtype: w.dtype, rows: w.rows, cols: w.cols, buffer: upload(w.data) };
  };

  const dev: CudaDeviceOps = {
    matmulT: (out, a, w, M) =>
      addon.cudaMatmulT(out.handle, a.handle, w.buffer.handle, cudaWTypeCode(w.dtype, 'w.dtype'), M, w.rows, w.cols),
    matmul: (out, a, b, M, K, N) => addon.cudaMatmul(out.handle, a.handle, b.handle, M, K, N),
    attention: (out, q, k, v, s) => {
      refuseCpuOnlyAttention(s);
      const rope = s.rope;
      checkRope(rope);
      const kvDtype = s.kvDtype ?? 'f32';
      if (kvDtype !== 'f32' && kvDtype !== 'f16') throw new RangeError(`tensorloom: kvDtype must be 'f32' or 'f16', got '${String(kvDtype)}'`);
      addon.cudaAttention(
        out.handle, q.handle, k.handle, v.handle, kvDtype === 'f16',
        s.T, s.S, s.H, s.Hkv, s.D, s.posOffset, s.causal ?? true, s.scale ?? 1 / Math.sqrt(s.D),
        rope ? rope.theta : 0, rope ? ROPE_LAYOUT_CODE[rope.layout] : 0, rope ? (rope.dims ?? s.D) : 0,
      );
    },
    rope: (x, T, nHeads, D, posOffset, rope) => {
      checkRope(rope);
      addon.cudaRope(x.handle, T, nHeads, D, posOffset, rope.theta, ROPE_LAYOUT_CODE[rope.layout], rope.dims ?? D);
    },
    rmsnorm: (out, x, w, rows, dim, eps) => addon.cudaRmsnorm(out.handle, x.handle, w.handle, rows, dim, eps),
    layernorm: (out, x, w, b, rows, dim, eps) =>
      addon.cudaLayernorm(out.handle, x.handle, w.handle, b ? b.handle : null, rows, dim, eps),
    softmax: (out, x, rows, cols, temperature = 1) => {
      checkTemperature(temperature);
      addon.cudaSoftmax(out.handle, x.handle, rows, cols, temperature);
    },
    gelu: (out, x, n, approximation = 'tanh') => {
      checkApproximation(approximation);
      addon.cudaGelu(out.handle, x.handle, n, approximation === 'tanh');
    },
    silu: (out, x, n) => addon.cudaSilu(out.handle, x.handle, n),
    swiglu: (out, g, u, n) => addon.cudaSwiglu(out.handle, g.handle, u.handle, n),
    add: (out, a, b, n) => addon.cudaAdd(out.handle, a.handle, b.handle, n),
    mul: (out, a, b, n) => addon.cudaMul(out.handle, a.handle, b.handle, n),
    embedding: (out, table, ids) =>
      addon.cudaEmbedding(out.handle, table.buffer.handle, cudaWTypeCode(table.dtype, 'table.dtype'), table.rows, table.cols, ids),
    argmax: (x, n) => addon.cudaArgmax(x.handle, n),
    castF32: (dst, dOff, dtype, src, sOff, n) => {
      if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'bf16') throw new RangeError(`tensorloom: dtype must be 'f32', 'f16' or 'bf16', got '${String(dtype)}'`);
      addon.cudaCastF32(dst.handle, dOff, cudaWTypeCode(dtype, 'dtype'), src.handle, sOff, n);
    },
  };

  // Runs fn with temporary device buffers that are freed afterwards, even on error.
  const scoped = <R>(fn: (up: (x: ArrayBufferView) => DeviceBuffer, empty: (bytes: number) => DeviceBuffer) => R): R => {
    const temps: DeviceBuffer[] = [];
    const keep = (b: DeviceBuffer): DeviceBuffer => (temps.push(b), b);
    try {
      return fn((x) => keep(upload(x)), (bytes) => keep(alloc(bytes)));
    } finally {
      for (const b of temps) b.free();
    }
  };
  const f32 = (name: string, x: unknown, n?: number, shape?: string): void => {
    expectArray(name, x, Float32Array);
    if (n !== undefined) expectLength(name, x as Float32Array, n, shape);
  };
  // out = op(inputs) for same-length elementwise ops
  const elementwise = (out: Float32Array, inputs: [string, Float32Array][], run: (o: DeviceBuffer, ins: DeviceBuffer[], n: number) => void): void => {
    f32('out', out);
    for (const [name, x] of inputs) f32(name, x, out.length);
    scoped((up, empty) => {
      const o = empty(out.byteLength);
      run(o, inputs.map(([, x]) => up(x)), out.length);
      o.read(out);
    });
  };

  return {
    name: 'cuda',
    info: () => ({ backend: 'cuda', device, addonPath, gemm: addon.cudaInfo(true).gemm ?? 'unknown' }),
    device: dev,
    alloc,
    upload,
    uploadWeights,
    copy: (dst, dOff, src, sOff, bytes) => addon.cudaCopy(dst.handle, dOff, src.handle, sOff, bytes),
    synchronize: () => addon.cudaSynchronize(),
    useCublas: (enabled) => addon.cudaUseCublas(enabled),
    useTensorCoreAttention: (enabled) => addon.cudaUseTensorCoreAttention(enabled),

    matmulT(out, a, w, M) {
      expectDim('M', M, 0);
      const resident = isDeviceWeights(w);
      if (!resident) checkWeights('w', w);
      f32('a', a, M * w.cols, `[M, K] = [${M}, ${w.cols}]`);
      f32('out', out, M * w.rows, `[M, N] = [${M}, ${w.rows}]`);
      scoped((up, empty) => {
        const dw = resident ? w : { dtype: w.dtype, rows: w.rows, cols: w.cols, buffer: up(w.data) };
        const o = empty(out.byteLength);
        dev.matmulT(o, up(a), dw, M);
        o.read(out);
      });
    },
    matmul(out, a, b, M, K, N) {
      expectDim('M', M, 0);
      expectDim('K', K, 0);
      expectDim('N', N, 0);
      f32('a', a, M * K, `[M, K] = [${M}, ${K}]`);
      f32('b', b, K * N, `[K, N] = [${K}, ${N}]`);
      f32('out', out, M * N, `[M, N] = [${M}, ${N}]`);
      scoped((up, empty) => {
        const o = empty(out.byteLength);
        dev.matmul(o, up(a), up(b), M, K, N);
        o.read(out);
      });
    },
    attention(out, q, k, v, shape) {
      if (typeof shape !== 'object' || shape === null) throw new TypeError('tensorloom: shape must be an AttentionShape object');
      refuseCpuOnlyAttention(shape);
      checkRope(shape.rope);
      const { T, S, H, Hkv, D } = shape;
      f32('q', q, T * H * D, `[T, H, D] = [${T}, ${H}, ${D}]`);
      f32('out', out, T * H * D, `[T, H, D] = [${T}, ${H}, ${D}]`);
      const kind = k instanceof Uint16Array ? Uint16Array : Float32Array;
      expectArray('k', k, kind);
      expectArray('v', v, kind);
      expectLength('k', k, S * Hkv * D, `[S, Hkv, D] = [${S}, ${Hkv}, ${D}]`);
      expectLength('v', v, S * Hkv * D, `[S, Hkv, D] = [${S}, ${Hkv}, ${D}]`);
      scoped((up, empty) => {
        const o = empty(out.byteLength);
        const dk = up(k);
        dev.attention(o, up(q), dk, up(v), { ...shape, kvDtype: kind === Uint16Array ? 'f16' : 'f32' });
        o.read(out);
        if (shape.rope) dk.read(k); // the new key rows were rotated in place, as on the CPU
      });
    },
    rope(x, T, nHeads, D, posOffset, rope) {
      checkRope(rope);
      f32('x', x, T * nHeads * D, `[T, nHeads, D] = [${T}, ${nHeads}, ${D}]`);
      scoped((up) => {
        const dx = up(x);
        dev.rope(dx, T, nHeads, D, posOffset, rope);
        dx.read(x);
      });
    },
    rmsnorm(out, x, weight, rows, dim, eps) {
      f32('x', x, rows * dim, `[rows, dim] = [${rows}, ${dim}]`);
      f32('out', out, rows * dim, `[rows, dim] = [${rows}, ${dim}]`);
      f32('weight', weight, dim, `[dim] = [${dim}]`);
      scoped((up, empty) => {
        const o = empty(out.byteLength);
        dev.rmsnorm(o, up(x), up(weight), rows, dim, eps);
        o.read(out);
      });
    },
    layernorm(out, x, weight, bias, rows, dim, eps) {
      f32('x', x, rows * dim, `[rows, dim] = [${rows}, ${dim}]`);
      f32('out', out, rows * dim, `[rows, dim] = [${rows}, ${dim}]`);
      f32('weight', weight, dim, `[dim] = [${dim}]`);
      if (bias !== null) f32('bias', bias, dim, `[dim] = [${dim}]`);
      scoped((up, empty) => {
        const o = empty(out.byteLength);
        dev.layernorm(o, up(x), up(weight), bias ? up(bias) : null, rows, dim, eps);
        o.read(out);
      });
    },
    softmax(out, x, rows, cols, temperature = 1) {
      checkTemperature(temperature);
      f32('x', x, rows * cols, `[rows, cols] = [${rows}, ${cols}]`);
      f32('out', out, rows * cols, `[rows, cols] = [${rows}, ${cols}]`);
      scoped((up, empty) => {
        const o = empty(out.byteLength);
        dev.softmax(o, up(x), rows, cols, temperature);
        o.read(out);
      });
    },
    gelu: (out, x, approximation = 'tanh') => {
      checkApproximation(approximation);
      elementwise(out, [['x', x]], (o, [dx], n) => dev.gelu(o, dx!, n, approximation));
    },
    silu: (out, x) => elementwise(out, [['x', x]], (o, [dx], n) => dev.silu(o, dx!, n)),
    swiglu: (out, gate, up) => elementwise(out, [['gate', gate], ['up', up]], (o, [g, u], n) => dev.swiglu(o, g!, u!, n)),
    add: (out, a, b) => elementwise(out, [['a', a], ['b', b]], (o, [da, db], n) => dev.add(o, da!, db!, n)),
    mul: (out, a, b) => elementwise(out, [['a', a], ['b', b]], (o, [da, db], n) => dev.mul(o, da!, db!, n)),
    embedding(out, table, ids) {
      const resident = isDeviceWeights(table);
      if (!resident) checkWeights('table', table);
      if (!(ids instanceof Int32Array) && !(ids instanceof Uint32Array))
        throw new TypeError('tensorloom: ids must be an Int32Array or Uint32Array');
      f32('out', out, ids.length * table.cols, `[ids.length, cols] = [${ids.length}, ${table.cols}]`);
      scoped((up, empty) => {
        const dt = resident ? table : { dtype: table.dtype, rows: table.rows, cols: table.cols, buffer: up(table.data) };
        const o = empty(out.byteLength);
        dev.embedding(o, dt, ids);
        o.read(out);
      });
    },
    argmax(x) {
      f32('x', x);
      if (x.length === 0) throw new RangeError('tensorloom: x must have at least one element');
      return scoped((up) => dev.argmax(up(x), x.length));
    },
  };
}
