// The thread pool's cost per job: one small GEMV (Q4_K, N×768, N = 768: ~9 µs of work at 1 thread),
// called back to back at 2 threads, two addon builds in alternating child processes (one pool per
// process: two builds in one process would each keep worker threads spinning on the same cores):
//   node bench/ab/pool-ab.cjs A.node B.node [N=768] [RUNS=4]
// Prints wall µs per call (median of 7 × 2000 calls per run, then the median over runs) at 1 and 2
// threads; the 2-thread figure minus half the 1-thread one is about the pool's dispatch and join.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
if (process.argv[2] === '--child') {
  const m = require(process.argv[3]);
  const N = Number(process.argv[4]), K = 768, type = 12, bb = 144;
  const w = new Uint8Array((N * K) / 256 * bb);
  for (let i = 0; i < w.length; i++) w[i] = ((i * 2654435761) >>> 13) & 255;
  for (let b = 0; b < w.length; b += bb) (w[b] = 0), (w[b + 1] = 0x2c), (w[b + 2] = 0), (w[b + 3] = 0x2c);
  const a = Float32Array.from({ length: K }, (_, i) => Math.sin(i)), out = new Float32Array(N);
  const res = {};
  for (const thr of [1, 2]) {
    m.setThreads(thr);
    for (let i = 0; i < 2000; i++) m.matmulT(out, a, w, type, N, K, 1);
    const t = [];
    for (let r = 0; r < 7; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 2000; i++) m.matmulT(out, a, w, type, N, K, 1);
      t.push(Number(process.hrtime.bigint() - t0) / 2000 / 1e3);
    }
    res[thr] = t.sort((x, y) => x - y)[3];
  }
  console.log(JSON.stringify({ res, sum: out.reduce((s, x) => s + x, 0) }));
  process.exit(0);
}
const [pa, pb, nArg = '768', runsArg = '4'] = process.argv.slice(2);
const runs = { A: [], B: [] }, sums = {};
for (let r = 0; r < Number(runsArg); r++)
  for (const [k, p] of r % 2 ? [['B', pb], ['A', pa]] : [['A', pa], ['B', pb]]) {
    const o = JSON.parse(execFileSync(process.execPath, [__filename, '--child', path.resolve(p), nArg], { encoding: 'utf8' }));
    runs[k].push(o.res);
    sums[k] = o.sum;
  }
if (sums.A !== sums.B) { console.log('A and B DIFFER'); process.exitCode = 1; }
const med = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
const row = (k) => ({ threads1_us: +med(runs[k].map((x) => x[1])).toFixed(2), threads2_us: +med(runs[k].map((x) => x[2])).toFixed(2) });
console.log(JSON.stringify({ N: Number(nArg), A: row('A'), B: row('B'), note: 'wall µs per call' }));
