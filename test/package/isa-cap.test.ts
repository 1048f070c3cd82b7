// Runs only when TENSORLOOM_ISA is set (the capped kernel run in .ci/run): proves the cap reached
// vitest's forked workers, so the kernel tests beside it really ran the capped SIMD path.
import { describe, expect, it } from 'vitest';
import { backendInfo } from '../../ts/index.js';

const cap = process.env.TENSORLOOM_ISA;

describe.skipIf(!cap)(`ISA cap from the environment (TENSORLOOM_ISA=${cap ?? 'unset'})`, () => {
  it('is the path the native kernels dispatch on', () => {
    const info = backendInfo('native');
    // The cap lowers the ceiling (order as in native/kernels/cpu.h); a CPU that lacks the capped
    // ISA keeps its own best path.
    const order = ['scalar', 'neon', 'avx2', 'avx512', 'avx512vnni', 'avx512bf16'];
    const detected = String(info.detectedIsa);
    const expected = order.indexOf(cap!) <= order.indexOf(detected) ? cap : detected;
    expect(info.isa).toBe(expected);
  });
});
