// Float GEMM (prefill shapes), two addon builds alternating in ONE process (CPU time per pass,
// medians): node bench/ab/gemm-ab.cjs A.node B.node [TYPE=f32|f16|bf16] [THREADS=1] [ROUNDS=9]
// Shapes: the 110M Llama's layer products at a 128-token prompt (768×768, 2048×768, 768×2048) and
// two large square-ish ones (512×4096×4096, 1024³) as in bench/run.ts matmul --blas. Outputs of A
// and B are compared (max relative difference printed: a check, not a benchmark).
'use strict';
const [pa, pb, typeArg = 'f32', thrArg = '1', roundsArg = '9'] = process.argv.slice(2);
const A = require(require('node:path').resolve(pa));
const B = require(require('node:path').resolve(pb));
const ids = { f32: 0, f16: 1, bf16: 30 };
const type = ids[typeArg];
for (const m of [A, B]) m.setThreads(Number(thrArg));
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
const f32ToHalf = (x, bf) => {
  const f = new Float32Array([x]), u = new Uint32Array(f.buffer)[0];
  if (bf) return (u + 0x7fff + ((u >> 16) & 1)) >>> 16;
  const s = (u >>> 16) & 0x8000, e = ((u >>> 23) & 0xff) - 112, m = u & 0x7fffff;
  return e <= 0 ? s : s | (e << 10) | (m >>> 13);
};
function weights(N, K) {
  if (typeArg === 'f32') return Float32Array.from({ length: N * K }, rnd);
  return Uint16Array.from({ length: N * K }, () => f32ToHalf(rnd() * 0.5, typeArg === 'bf16'));
}
const shapes = [[128, 768, 768], [128, 2048, 768], [128, 768, 2048], [512, 4096, 4096], [1024, 1024, 1024]];
const cases = shapes.map(([M, N, K]) => ({ M, N, K, w: weights(N, K), a: Float32Array.from({ length: M * K }, rnd), out: new Float32Array(M * N) }));
const run = (m, c) => m.matmulT(c.out, c.a, c.w, type, c.N, c.K, c.M);
for (const c of cases) {
  run(A, c); const oa = c.out.slice(); run(B, c);
  let worst = 0;
  for (let i = 0; i < oa.length; i++) worst = Math.max(worst, Math.abs(oa[i] - c.out[i]) / (Math.abs(oa[i]) + 1e-3));
  if (worst > 1e-4) { console.log(`A and B differ on ${c.M}x${c.N}x${c.K}: ${worst}`); process.exitCode = 1; }
}
const cpu = (f) => { const c0 = process.cpuUsage(), t0 = performance.now(); f(); const c = process.cpuUsage(c0); return Number(thrArg) > 1 ? performance.now() - t0 : (c.user + c.system) / 1e3; };
const res = cases.map(() => ({ A: [], B: [] }));
for (let r = 0; r < Number(roundsArg); r++)
  cases.forEach((c, i) => {
    const reps = c.M * c.N * c.K > 1e9 ? 1 : 8;
    for (const [k, m] of r % 2 ? [['B', B], ['A', A]] : [['A', A], ['B', B]]) res[i][k].push(cpu(() => { for (let j = 0; j < reps; j++) run(m, c); }) / reps);
  });
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
cases.forEach((c, i) => {
  const fl = 2 * c.M * c.N * c.K / 1e6;
  const a = med(res[i].A), b = med(res[i].B);
  console.log(`${c.M}x${c.N}x${c.K} ${typeArg} thr=${thrArg}: A ${(fl / a).toFixed(1)} GFLOP/s, B ${(fl / b).toFixed(1)} GFLOP/s, A/B time ${(a / b).toFixed(3)} (>1: B faster)`);
});
