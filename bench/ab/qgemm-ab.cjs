// Quantized matmul with M activation rows (prefill GEMM, batched decode), one weight type, two addon
// builds alternating in ONE process (CPU time per pass, medians):
//   node bench/ab/qgemm-ab.cjs A.node B.node [TYPE_ID=23] [M=128] [THREADS=1] [ROUNDS=9]
// One layer of the 110M Llama (q, k, v, o 768×768; gate, up 2048×768; down 768×2048) and of the
// 1B-shaped model (2048×2048 ×2, 512×2048 ×2, gate/up 8192×2048, down 2048×8192). Weights are random
// bytes with every block's f16 scale(s) set to a normal value; outputs of A and B must be equal bit
// for bit (a check, not a benchmark).
'use strict';
const [pa, pb, typeArg = '23', mArg = '128', thrArg = '1', roundsArg = '9'] = process.argv.slice(2);
const A = require(require('node:path').resolve(pa));
const B = require(require('node:path').resolve(pb));
const type = Number(typeArg), M = Number(mArg);
for (const m of [A, B]) m.setThreads(Number(thrArg));
const weights = require('./quant-weights.cjs').quantWeights(type);
const shapes = {
  '110m': [[768, 768], [768, 768], [768, 768], [768, 768], [2048, 768], [2048, 768], [768, 2048]],
  '1b': [[2048, 2048], [512, 2048], [512, 2048], [2048, 2048], [8192, 2048], [8192, 2048], [2048, 8192]],
};
const act = (K) => Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37) * (i % 7 === 0 ? 3 : 1));
const res = {};
for (const [name, layer] of Object.entries(shapes)) {
  const mats = layer.map(([N, K]) => ({ N, K, w: weights(N, K), a: act(K), out: new Float32Array(M * N) }));
  const pass = (m) => { for (const x of mats) m.matmulT(x.out, x.a, x.w, type, x.N, x.K, M); };
  for (const x of mats) {
    const oa = new Float32Array(M * x.N), ob = new Float32Array(M * x.N);
    A.matmulT(oa, x.a, x.w, type, x.N, x.K, M);
    B.matmulT(ob, x.a, x.w, type, x.N, x.K, M);
    if (Buffer.compare(Buffer.from(oa.buffer), Buffer.from(ob.buffer)) !== 0) { console.log(`A and B DIFFER (${name} ${x.N}×${x.K})`); process.exitCode = 1; }
  }
  const flops = mats.reduce((s, x) => s + 2 * M * x.N * x.K, 0);
  const cpu = (f) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return (c.user + c.system) / 1e3; };
  const t = { A: [], B: [] };
  for (let r = 0; r < Number(roundsArg); r++)
    for (const [k, m] of r % 2 ? [['B', B], ['A', A]] : [['A', A], ['B', B]]) t[k].push(cpu(() => pass(m)));
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  res[name] = { A_ms: +med(t.A).toFixed(2), B_ms: +med(t.B).toFixed(2), A_gflops: +(flops / med(t.A) / 1e6).toFixed(1), B_gflops: +(flops / med(t.B) / 1e6).toFixed(1), ratio: +(med(t.A) / med(t.B)).toFixed(3) };
}
console.log(JSON.stringify({ type, M, threads: Number(thrArg), ...res, note: 'GFLOP/s per CPU-second; ratio = A/B CPU time, >1 means B faster' }));
