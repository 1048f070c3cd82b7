/**
 * SiLU / SwiGLU on the SIMD paths equal llama.cpp's bit for bit (native/kernels/vmath_avx*.h).
 *
 * ggml's CPU backend computes silu(x) = x / (1 + exp(−x)) with its own vector exp (the Arm
 * optimized-routines expf: 1.5·2^23 shift rounding, two-part ln 2, degree-5 polynomial; 2^n applied
 * by scalef on its AVX-512 build, through the exponent bits on its AVX2 build). One ulp of
 * difference in a SwiGLU output is enough to move the next matmul's int8 activation across a
 * rounding boundary now and then, so greedy decoding drifts from llama.cpp's; the kernels therefore
 * use the same arithmetic. The reference here is that algorithm written in JS with exact f32
 * arithmetic (Math.fround, and a correctly rounded f32 fma: ggml-arith.ts), independent of the C++ code.
 * Full vectors only: the scalar tail uses the C library's expf, checked by ops.test.ts's tolerances.
 */
import { describe, expect, it } from 'vitest';
import { exp256, exp512 } from './ggml-arith.js';
import { native, randomArray, variants, withVariant } from './variants.js';

const f = Math.fround;
const silu = (exp: (x: number) => number) => (x: number): number => f(x / f(1 + exp(f(0 - x))));

describe('SiLU and SwiGLU equal llama.cpp\'s arithmetic bit for bit on the SIMD paths', () => {
  const n = 4096;
  const x = randomArray(n, 7, -30, 30);
  // the polynomial's range edges and the split/saturation paths of the exp (|x| ≳ 87, ≳ 133)
  const special = [0, -0, 1e-30, -1e-30, 87.5, -87.5, 88.7, -88.7, 90, -90, 100, -100, 104, -104, 130, -130, 140, -140, 200, -200];
  x.set(special, 0);
  const up = randomArray(n, 8, -4, 4);
  for (const v of variants().filter((v) => v.isa === 'avx2' || v.isa === 'avx512')) {
    const ref = silu(v.isa === 'avx512' ? exp512 : exp256);
    it.skipIf(v.skip !== undefined)(`${v.title}`, () => {
      withVariant(v, () => {
        const s = new Float32Array(n);
        const g = new Float32Array(n);
        native.silu(s, x);
        native.swiglu(g, x, up);
        let bad = 0;
        let first = '';
        for (let i = 0; i < n; i++) {
          const want = ref(x[i]!);
          const wantG = f(want * up[i]!);
          if (!Object.is(s[i], want) || !Object.is(g[i], wantG)) {
            if (!first) first = `x = ${x[i]}: silu ${s[i]} (want ${want}), swiglu ${g[i]} (want ${wantG})`;
            bad++;
          }
        }
        expect(bad, first).toBe(0);
      });
    });
  }
});
