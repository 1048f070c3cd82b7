// One GEMV call at a time over matrices streamed from memory (96 MB of distinct N × 768 matrices
// per N), two addon builds alternating in ONE process (wall µs per call, medians of 7 rounds each):
//   node bench/ab/gemv-calls-ab.cjs A.node B.node [TYPE_ID=2] [THREADS=2]
// What a decode step's small GEMVs cost per call beyond their bytes (the pool's dispatch and join,
// streams that start cold, the activations' trip between cores) shows at N = 256 … 2048; at 2
// threads both builds keep their own pool, whose workers sleep while the other build runs. Outputs
// of A and B must be equal bit for bit (a check, not a benchmark).
'use strict';
const path = require('node:path');
const [pa, pb, typeArg = '2', thrArg = '2'] = process.argv.slice(2);
const A = require(path.resolve(pa)), B = require(path.resolve(pb));
const type = Number(typeArg);
for (const m of [A, B]) m.setThreads(Number(thrArg));
const weights = require('./quant-weights.cjs').quantWeights(type);
const K = 768;
const a = Float32Array.from({ length: K }, (_, i) => Math.sin(i * 0.37));
const med = (xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
for (const N of [256, 768, 2048]) {
  const first = weights(N, K);
  const count = Math.max(4, Math.ceil(96e6 / first.byteLength));
  const mats = [first];
  for (let i = 1; i < count; i++) mats.push(weights(N, K));
  const oa = new Float32Array(N), ob = new Float32Array(N);
  A.matmulT(oa, a, first, type, N, K, 1);
  B.matmulT(ob, a, first, type, N, K, 1);
  if (Buffer.compare(Buffer.from(oa.buffer), Buffer.from(ob.buffer)) !== 0) { console.log(`A and B DIFFER (N = ${N})`); process.exitCode = 1; }
  const us = { A: [], B: [] };
  for (let r = 0; r < 14; r++)
    for (const [k, m] of r % 2 ? [['B', B], ['A', A]] : [['A', A], ['B', B]]) {
      for (const w of mats.slice(0, 8)) m.matmulT(oa, a, w, type, N, K, 1);  // wake this build's pool
      const t0 = process.hrtime.bigint();
      for (const w of mats) m.matmulT(oa, a, w, type, N, K, 1);
      us[k].push(Number(process.hrtime.bigint() - t0) / 1e3 / count);
    }
  console.log(JSON.stringify({ type, threads: Number(thrArg), N, K, kib: +(first.byteLength / 1024).toFixed(0), A_us: +med(us.A).toFixed(2), B_us: +med(us.B).toFixed(2), ratio: +(med(us.A) / med(us.B)).toFixed(3) }));
}
console.log(JSON.stringify({ note: 'wall µs per call; ratio = A/B, >1 means B faster' }));
