// Random quantized weights for the A/B scripts (gemv-ab.cjs, qgemm-ab.cjs): random bytes with every
// block's f16 scale(s) set to a normal value (0x2c00 = 0.0625), so no block holds NaN or Inf.
'use strict';
// F32 (0) and BF16 (30) as small random values (a Float32Array / Uint16Array, as matmulT takes them); block (values, bytes, offsets of f16 scales) per GGML id: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K..Q6_K, IQ4_NL, IQ4_XS
const blocks = { 10: [256, 84, [80, 82]], 11: [256, 110, [108]], 12: [256, 144, [0, 2]], 13: [256, 176, [0, 2]], 14: [256, 210, [208]], 23: [256, 136, [0]], 2: [32, 18, [0]], 3: [32, 20, [0, 2]], 6: [32, 22, [0]], 7: [32, 24, [0, 2]], 8: [32, 34, [0]], 20: [32, 18, [0]] };

/** weights(N, K) for GGML type id `type`, from one fixed byte sequence (the same in every run). */
function quantWeights(type) {
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  if (type === 0 || type === 30) {  // F32, BF16: values in ±0.5 (no NaN, Inf or subnormal)
    return (N, K) => {
      const f = Float32Array.from({ length: N * K }, () => (rnd() - 127.5) / 255);
      if (type === 0) return f;
      const hi = new Uint16Array(N * K), u = new Uint32Array(f.buffer);
      for (let i = 0; i < hi.length; i++) hi[i] = u[i] >>> 16;
      return hi;
    };
  }
  const [bv, bb, scaleOffs] = blocks[type];
  return (N, K) => {
    const w = new Uint8Array((N * K) / bv * bb);
    for (let i = 0; i < w.length; i++) w[i] = rnd();
    for (let b = 0; b < w.length; b += bb) for (const o of scaleOffs) (w[b + o] = 0x00), (w[b + o + 1] = 0x2c);
    return w;
  };
}
module.exports = { quantWeights };
