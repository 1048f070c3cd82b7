// The clear errors when CUDA cannot run. These run everywhere: the default (node-gyp) addon is
// built without CUDA, and a CUDA build on a machine without a GPU reports the missing device.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadAddon, type NativeAddon } from '../../ts/native/addon.js';
import { CUDA_EXPORTS } from '../../ts/backend/cuda/addon.js';
import { createCudaBackend } from '../../ts/backend/cuda/backend.js';
import { assertCudaAvailable, cudaStatus, getCudaBackend } from '../../ts/index.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cudaBuildPath = join(repoRoot, 'build-cuda', 'Release', 'tensorloom.node');
const base = loadAddon().addon;
const baseHasCuda = base?.info().cuda === true;

describe.skipIf(!base || baseHasCuda)('an addon built without CUDA (skipped: the default addon has CUDA or did not load)', () => {
  const addon = base as NativeAddon;

  it('says so in cudaInfo() without throwing', () => {
    expect(addon.cudaInfo()).toEqual({
      built: false,
      deviceCount: 0,
      error: 'this build has no CUDA support: rebuild with npm run build:cuda',
      devices: [],
    });
  });

  it('exports every CUDA function, each throwing the no-CUDA-build error', () => {
    for (const name of CUDA_EXPORTS) {
      expect(typeof addon[name], name).toBe('function');
      if (name === 'cudaInfo') continue;
      expect(() => (addon[name] as () => void)(), name).toThrow(
        /^tensorloom: this build has no CUDA support: rebuild with npm run build:cuda$/,
      );
    }
  });
});

describe('getCudaBackend() without a usable GPU', () => {
  const status = cudaStatus();
  it.skipIf(status.available)('throws an error naming what is missing: the CUDA build or the device', () => {
    expect(status.available).toBe(false);
    const expected = status.built
      ? /^tensorloom: no CUDA device found \(cudaGetDeviceCount: .+\)$/
      : /^tensorloom: this build has no CUDA support: rebuild with npm run build:cuda/;
    expect(status.reason).toBeDefined();
    expect(() => assertCudaAvailable()).toThrow(expected);
    expect(() => getCudaBackend()).toThrow(expected);
    // asking twice gives the same answer (the lookup is cached, nothing half-initialized)
    expect(() => getCudaBackend()).toThrow(expected);
  });
});

// The cmake-js CUDA build (npm run build:cuda / scripts/check-cuda-build.sh), loaded directly.
describe.skipIf(!existsSync(cudaBuildPath))(
  `the CUDA build at build-cuda/Release (skipped: not built; run scripts/check-cuda-build.sh)`,
  () => {
    const cudaAddon = (): NativeAddon => createRequire(import.meta.url)(cudaBuildPath) as NativeAddon;

    it('has the CUDA kernels compiled in and exports the same functions', () => {
      const addon = cudaAddon();
      expect(addon.info().cuda).toBe(true);
      expect(addon.cudaInfo().built).toBe(true);
      for (const name of CUDA_EXPORTS) expect(typeof addon[name], name).toBe('function');
    });

    it('checks arguments before touching the GPU: TypeError naming the argument', () => {
      const addon = cudaAddon();
      expect(() => addon.cudaMatmulT({} as never, {} as never, {} as never, 0, 1, 1, 1)).toThrow(
        /out must be a CUDA device buffer/,
      );
      expect(() => addon.cudaMatmulT({} as never, {} as never, {} as never, 7, 1, 1, 1)).toThrow(RangeError);
      expect(() => addon.cudaAlloc(-1)).toThrow(RangeError);
      expect(() => addon.cudaFree(new Float32Array(4) as never)).toThrow(TypeError);
    });

    it.skipIf(cudaAddonHasDevice())('reports the missing device clearly and keeps working', () => {
      const addon = cudaAddon();
      const info = addon.cudaInfo();
      expect(info.deviceCount).toBe(0);
      expect(info.error).toMatch(/^no CUDA device found \(cudaGetDeviceCount: .+\)$/);
      expect(() => addon.cudaAlloc(16)).toThrow(/^tensorloom: no CUDA device found \(cudaGetDeviceCount: .+\)$/);
      expect(() => addon.cudaSynchronize()).toThrow(/no CUDA device found/);
      expect(() => addon.cudaAlloc(16)).toThrow(/no CUDA device found/); // same answer, no crash
    });

    function cudaAddonHasDevice(): boolean {
      try {
        return cudaAddon().cudaInfo().deviceCount > 0;
      } catch {
        return false;
      }
    }
  },
);

// The TS wrapper checks host arrays before any device work, so these run without a GPU: wrong
// kinds and lengths are TypeError/RangeError naming the argument; good arguments reach the addon,
// which reports what is missing.
describe.skipIf(!base)('the CUDA backend wrapper on a machine without a GPU', () => {
  const addon = (): NativeAddon =>
    existsSync(cudaBuildPath) ? (createRequire(import.meta.url)(cudaBuildPath) as NativeAddon) : (base as NativeAddon);
  const device = { name: 'none', computeCapability: '0.0', totalMemory: 0, multiprocessors: 0 };
  const missing = /no CUDA device found|no CUDA support/;

  it.skipIf(cudaStatus().available)('rejects bad host arguments first, then says what is missing', () => {
    const c = createCudaBackend(addon(), 'test', device);
    const f = (n: number) => new Float32Array(n);
    const w = { dtype: 'f32' as const, rows: 2, cols: 3, data: f(6) };
    expect(() => c.matmulT(new Float64Array(2) as never, f(3), w, 1)).toThrow(/out must be a Float32Array, got Float64Array/);
    expect(() => c.matmulT(f(2), f(4), w, 1)).toThrow(/a has 4 elements, expected 3/);
    expect(() => c.matmulT(f(2), f(3), { ...w, dtype: 'q4' as never }, 1)).toThrow(RangeError);
    expect(() => c.matmulT(f(2), f(3), { ...w, data: f(5) }, 1)).toThrow(/w.data has 5 elements, expected 6/);
    expect(() => c.matmulT(f(2), f(3), { ...w, dtype: 'q8_0', cols: 33, data: new Uint8Array(68) }, 1)).toThrow(/multiple of 32/);
    expect(() => c.add(f(2), f(3), f(2))).toThrow(/a has 3 elements, expected 2/);
    expect(() => c.attention(f(4), f(4), f(4), new Uint16Array(4), { T: 1, S: 1, H: 1, Hkv: 1, D: 4, posOffset: 0 })).toThrow(TypeError);
    expect(() => c.embedding(f(3), w, [0] as never)).toThrow(/ids must be an Int32Array or Uint32Array/);
    expect(() => c.argmax(f(0))).toThrow(RangeError);
    expect(() => c.gelu(f(2), f(2), 'exact' as never)).toThrow(/approximation must be 'tanh' or 'erf'/);
    expect(() => c.softmax(f(2), f(2), 1, 2, 0)).toThrow(/temperature must be a finite number > 0/);
    expect(() => c.rope(f(4), 1, 1, 4, 0, { theta: 10000, layout: 'rotate' as never })).toThrow(/rope.layout/);
    expect(() => c.attention(f(4), f(4), f(4), f(4), { T: 1, S: 1, H: 1, Hkv: 1, D: 4, posOffset: 0, rope: { theta: -1, layout: 'half' } })).toThrow(/rope.theta/);
    // well-formed calls get as far as the device
    expect(() => c.matmulT(f(2), f(3), w, 1)).toThrow(missing);
    expect(() => c.add(f(2), f(2), f(2))).toThrow(missing);
    expect(() => c.alloc(8)).toThrow(missing);
  });
});
