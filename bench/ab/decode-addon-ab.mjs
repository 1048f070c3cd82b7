/**
 * Greedy decode, two addon builds alternating in ONE process (median CPU ms per token):
 *   AB_A=a.node AB_B=b.node TENSORLOOM_ADDON=bench/ab/dual-addon.cjs \
 *     node bench/ab/decode-addon-ab.mjs MODEL.gguf [THREADS=1] [STEPS=64] [ROUNDS=7]
 * AB_KV=f16: both models with an f16 KV cache (loadModel's kvCache; default f32).
 * The model is loaded twice, once while every addon call goes to A and once to B
 * (globalThis.__tlAbUseB), and each copy only ever runs with its own build selected, so no native
 * object crosses builds. Needs dist/ (npm run build:ts).
 */
const [path, thr = '1', stepsArg = '64', roundsArg = '7'] = process.argv.slice(2);
if (!process.env.AB_A || !process.env.AB_B || !/dual-addon/.test(process.env.TENSORLOOM_ADDON ?? '')) {
  console.error('usage: AB_A=a.node AB_B=b.node TENSORLOOM_ADDON=bench/ab/dual-addon.cjs node bench/ab/decode-addon-ab.mjs MODEL.gguf [THREADS] [STEPS] [ROUNDS]');
  process.exit(2);
}
const { loadModel } = await import(new URL('../../dist/esm/index.js', import.meta.url).href);
const builds = [];
for (const b of ['A', 'B']) {
  globalThis.__tlAbUseB = b === 'B';
  const m = await loadModel(path, { threads: Number(thr), backend: 'native', contextLength: 512, worker: false, ...(process.env.AB_KV ? { kvCache: process.env.AB_KV } : {}) });
  await m.generate([1, 2, 3, 4], { temperature: 0, maxTokens: 4, ignoreEos: true });
  builds.push({ b, m, cpu: [], tps: [], out: [] });
}
const steps = Number(stepsArg);
for (let r = 0; r < Number(roundsArg); r++) {
  for (const x of r % 2 ? [...builds].reverse() : builds) {
    globalThis.__tlAbUseB = x.b === 'B';
    const prompt = Array.from({ length: 8 }, (_, i) => 100 + i * 37 + r);
    const c0 = process.cpuUsage();
    const res = await x.m.generate(prompt, { temperature: 0, maxTokens: steps, ignoreEos: true });
    const c = process.cpuUsage(c0);
    x.cpu.push((c.user + c.system) / 1e3 / res.tokens.length);
    x.tps.push(res.timings.decodeTokensPerSecond);
    x.out.push(res.tokens.join(','));
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const same = builds[0].out.every((o, i) => o === builds[1].out[i]);
for (const x of builds)
  console.log(JSON.stringify({ build: x.b, cpuMsPerTok: +med(x.cpu).toFixed(2), tokPerCpuS: +(1e3 / med(x.cpu)).toFixed(1), decodeTokPerS: +med(x.tps).toFixed(1), cpu: x.cpu.map((c) => +c.toFixed(2)) }));
console.log(JSON.stringify({ ratio: +(med(builds[0].cpu) / med(builds[1].cpu)).toFixed(3), sameTokens: same, note: 'A/B CPU ms per token: >1 means B faster' }));
