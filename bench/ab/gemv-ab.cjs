// GEMV (M = 1) of one weight type, two addon builds alternating in ONE process (CPU time per pass,
// medians): node bench/ab/gemv-ab.cjs A.node B.node [TYPE_ID=2] [THREADS=1] [ROUNDS=15]
// Shapes of the 110M Llama's 12 layers (q, k, v, o 768×768; gate, up 2048×768; down 768×2048),
// ~48 MB at Q4_0: streamed from memory as in decode. Also one 768×768 matrix (L2-resident) alone.
// Weights are random bytes with every block's f16 scale(s) set to a normal value; outputs of A and
// B must be equal bit for bit (a check, not a benchmark).
'use strict';
const [pa, pb, typeArg = '2', thrArg = '1', roundsArg = '15'] = process.argv.slice(2);
const A = require(require('node:path').resolve(pa));
const B = require(require('node:path').resolve(pb));
const type = Number(typeArg);
for (const m of [A, B]) m.setThreads(Number(thrArg));
const weights = require('./quant-weights.cjs').quantWeights(type);
const layer = [[768, 768], [768, 768], [768, 768], [768, 768], [2048, 768], [2048, 768], [768, 2048]];
const mats = [];
for (let l = 0; l < 12; l++) for (const [N, K] of layer) mats.push({ N, K, w: weights(N, K), out: new Float32Array(N) });
const acts = { 768: Float32Array.from({ length: 768 }, (_, i) => Math.sin(i * 0.37)), 2048: Float32Array.from({ length: 2048 }, (_, i) => Math.cos(i * 0.11)) };
const small = { N: 768, K: 768, w: weights(768, 768), out: new Float32Array(768) };
const pass = (m) => { for (const x of mats) m.matmulT(x.out, acts[x.K], x.w, type, x.N, x.K, 1); };
const passSmall = (m) => { for (let r = 0; r < 64; r++) m.matmulT(small.out, acts[768], small.w, type, 768, 768, 1); };
// bit-equality of A and B on every matrix
for (const x of mats.slice(0, 7)) {
  const oa = new Float32Array(x.N), ob = new Float32Array(x.N);
  A.matmulT(oa, acts[x.K], x.w, type, x.N, x.K, 1);
  B.matmulT(ob, acts[x.K], x.w, type, x.N, x.K, 1);
  if (Buffer.compare(Buffer.from(oa.buffer), Buffer.from(ob.buffer)) !== 0) { console.log('A and B DIFFER'); process.exitCode = 1; }
}
const bytes = mats.reduce((s, x) => s + x.w.byteLength, 0);
const res = { A: { big: [], small: [] }, B: { big: [], small: [] } };
const cpu = (f) => { const c0 = process.cpuUsage(); f(); const c = process.cpuUsage(c0); return (c.user + c.system) / 1e3; };
for (const m of [A, B]) pass(m), passSmall(m);
for (let r = 0; r < Number(roundsArg); r++) {
  for (const [k, m] of r % 2 ? [['B', B], ['A', A]] : [['A', A], ['B', B]]) {
    res[k].big.push(cpu(() => pass(m)));
    res[k].small.push(cpu(() => passSmall(m)));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const k of ['A', 'B']) {
  const big = med(res[k].big), sm = med(res[k].small);
  console.log(JSON.stringify({ build: k, type, threads: Number(thrArg), streamedMs: +big.toFixed(2), streamedGBsPerCpuS: +(bytes / big / 1e6).toFixed(1), l2Ms: +sm.toFixed(2), l2GBsPerCpuS: +((small.w.byteLength * 64) / sm / 1e6).toFixed(1) }));
}
console.log(JSON.stringify({ ratioStreamed: +(med(res.A.big) / med(res.B.big)).toFixed(3), ratioL2: +(med(res.A.small) / med(res.B.small)).toFixed(3), note: 'A/B CPU time: >1 means B faster' }));
