// Decode attention (one query token against a KV cache), two addon builds alternating in ONE
// process, the way a forward pass meets it: 12 layers' caches, and between two layers a layer's
// worth of weights streamed by a matmul (so the cache rows come from memory, not from L2):
//   node bench/ab/attn-decode-ab.cjs A.node B.node [S=192] [KV=f16] [THREADS=1] [ROUNDS=15] [H=12] [HKV=12] [D=64]
// Prints the median over rounds of the summed wall time of the 12 attention calls (the matmuls are
// not timed; AB_WARM=1: no matmuls, the caches stay in L2 / L3). Outputs of A and B must be equal bit for bit (a check, not a benchmark).
'use strict';
const [pa, pb, sArg = '192', kv = 'f16', thrArg = '1', roundsArg = '15', hArg = '12', hkvArg = '12', dArg = '64'] = process.argv.slice(2);
const A = require(require('node:path').resolve(pa));
const B = require(require('node:path').resolve(pb));
const S = Number(sArg), H = Number(hArg), Hkv = Number(hkvArg), D = Number(dArg), L = 12;
for (const m of [A, B]) m.setThreads(Number(thrArg));
let seed = 7;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const f16 = (x) => { const f = new Float32Array([x]); const u = new Uint32Array(f.buffer)[0]; const e = ((u >>> 23) & 0xff) - 127 + 15; return e <= 0 ? (u >>> 16) & 0x8000 : ((u >>> 16) & 0x8000) | (e << 10) | ((u >>> 13) & 0x3ff); };
const cache = () => (kv === 'f16' ? Uint16Array.from({ length: S * Hkv * D }, () => f16(rnd())) : Float32Array.from({ length: S * Hkv * D }, rnd));
const layers = Array.from({ length: L }, () => ({ k: cache(), v: cache(), q: Float32Array.from({ length: H * D }, rnd) }));
// a layer's weights: 7 MB of q8_0 (≈ the 110M's q8_0 layer), streamed between attention calls
const N = 4096, K = 1536, wq = new Uint8Array((N * K) / 32 * 34);
for (let i = 0; i < wq.length; i += 34) (wq[i] = 0x00), (wq[i + 1] = 0x2c);
const ws = Array.from({ length: 3 }, () => Uint8Array.from(wq));
const x = Float32Array.from({ length: K }, rnd), y = new Float32Array(N);
const call = (m, l, out) => m.attention(out, l.q, l.k, l.v, 1, S, H, Hkv, D, S - 1, true, 1 / Math.sqrt(D), null, 10000, D);
const oa = new Float32Array(H * D), ob = new Float32Array(H * D);
for (const l of layers) {
  call(A, l, oa), call(B, l, ob);
  if (Buffer.compare(Buffer.from(oa.buffer), Buffer.from(ob.buffer)) !== 0) { console.log('A and B DIFFER'); process.exitCode = 1; }
}
const out = new Float32Array(H * D);
const pass = (m) => {
  let t = 0n;
  layers.forEach((l, i) => {
    if (!process.env.AB_WARM) m.matmulT(y, x, ws[i % 3], 8, N, K, 1);
    const t0 = process.hrtime.bigint();
    call(m, l, out);
    t += process.hrtime.bigint() - t0;
  });
  return Number(t) / 1e3;
};
const t = { A: [], B: [] };
for (const m of [A, B]) pass(m);
for (let r = 0; r < Number(roundsArg); r++) for (const [k, m] of r % 2 ? [['B', B], ['A', A]] : [['A', A], ['B', B]]) t[k].push(pass(m));
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const bytes = L * 2 * S * Hkv * D * (kv === 'f16' ? 2 : 4);
console.log(JSON.stringify({ S, kv, threads: Number(thrArg), A_us: +med(t.A).toFixed(1), B_us: +med(t.B).toFixed(1), A_GBs: +(bytes / med(t.A) / 1e3).toFixed(1), B_GBs: +(bytes / med(t.B) / 1e3).toFixed(1), ratio: +(med(t.A) / med(t.B)).toFixed(3), note: 'µs for 12 layers; ratio = A/B time, >1 means B faster' }));
