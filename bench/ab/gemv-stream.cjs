// Wall time of the 110M Llama's 12 layers of GEMVs (84 calls: q, k, v, o 768×768; gate, up
// 2048×768; down 768×2048, streamed from memory as in decode) against one GEMV over the same bytes,
// at 1 and 2 threads, for one addon build:
//   node bench/ab/gemv-stream.cjs ADDON.node [TYPE_ID=2] [ROUNDS=15]
// The gap between the two is what each call costs beyond its bytes (the pool's dispatch and join,
// streams that start cold). One pool per process: compare builds in alternating runs, e.g.
//   for r in 1 2 3 4 5; do for b in A B; do node bench/ab/gemv-stream.cjs $b.node 2; done; done
// Weights are random bytes with every block's f16 scale(s) set to a normal value (quant-weights.cjs).
'use strict';
const path = require('node:path');
const [addonArg, typeArg = '2', roundsArg = '15'] = process.argv.slice(2);
const A = require(path.resolve(addonArg));
const type = Number(typeArg);
const weights = require('./quant-weights.cjs').quantWeights(type);
const layer = [[768, 768], [768, 768], [768, 768], [768, 768], [2048, 768], [2048, 768], [768, 2048]];
const mats = [];
for (let l = 0; l < 12; l++) for (const [N, K] of layer) mats.push({ N, K, w: weights(N, K), out: new Float32Array(N) });
const acts = { 768: Float32Array.from({ length: 768 }, (_, i) => Math.sin(i * 0.37)), 2048: Float32Array.from({ length: 2048 }, (_, i) => Math.cos(i * 0.11)) };
const one = { N: Math.round(mats.reduce((s, x) => s + x.N * x.K, 0) / 768 / 32) * 32, K: 768 };
one.w = weights(one.N, one.K);
one.out = new Float32Array(one.N);
const stream = () => { for (const x of mats) A.matmulT(x.out, acts[x.K], x.w, type, x.N, x.K, 1); };
const single = () => A.matmulT(one.out, acts[768], one.w, type, one.N, one.K, 1);
const bytes = mats.reduce((s, x) => s + x.w.byteLength, 0);
const wall = (f) => { const t = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t) / 1e6; };
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const threads of [1, 2]) {
  A.setThreads(threads);
  stream(), single();
  const a = [], b = [];
  for (let r = 0; r < Number(roundsArg); r++) a.push(wall(stream)), b.push(wall(single));
  console.log(JSON.stringify({ addon: addonArg, type, threads, streamMs: +med(a).toFixed(3), streamGBs: +(bytes / med(a) / 1e6).toFixed(1), oneCallMs: +med(b).toFixed(3), oneCallGBs: +(one.w.byteLength / med(b) / 1e6).toFixed(1) }));
}
