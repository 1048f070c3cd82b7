import { describe, expect, it } from 'vitest';
import { backendInfo, getBackend, setIsa } from '../../ts/index.js';

describe('backend selection', () => {
  it('loads the native addon and reports its ISA and thread count', () => {
    const info = backendInfo('native');
    expect(info.backend).toBe('native');
    expect(['scalar', 'avx2', 'avx512', 'avx512vnni', 'avx512bf16', 'neon']).toContain(info.isa);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  it('caps the ISA to scalar and back', () => {
    const detected = backendInfo('native').detectedIsa;
    expect(setIsa('scalar')).toEqual({ isa: 'scalar', supported: true });
    expect(backendInfo('native').isa).toBe('scalar');
    setIsa(detected as 'scalar');
    expect(backendInfo('native').isa).toBe(detected);
  });

  it('rejects an unknown ISA or backend name with a clear error', () => {
    expect(() => setIsa('sse9' as 'scalar')).toThrow(/isa must be one of scalar \| avx2 \| avx512 \| avx512vnni \| avx512bf16 \| neon, got 'sse9'/);
    expect(() => getBackend('gpu' as 'js')).toThrow(RangeError);
  });

  it('offers the pure-JS backend on request', () => {
    expect(backendInfo('js')).toMatchObject({ backend: 'js', isa: 'js', threads: 1 });
  });
});
