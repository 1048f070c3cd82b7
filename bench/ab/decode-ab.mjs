/**
 * node bench/ab/decode-ab.mjs MODEL.gguf THREADS STEPS ROUNDS VARIANT[,VARIANT…]
 * Loads the model once per variant (TENSORLOOM_IO=variant while loading: auto | huge | read | mmap) in this
 * process, then alternates decode rounds between them; per variant the median CPU ms per token.
 */
import { readFileSync } from 'node:fs';
const [path, thr = '1', stepsArg = '64', roundsArg = '5', variantsArg = 'auto,huge'] = process.argv.slice(2);
const { loadModel } = await import(new URL('../../dist/esm/index.js', import.meta.url).href);
const variants = variantsArg.split(',');
const models = [];
for (const v of variants) {
  process.env.TENSORLOOM_IO = v;
  const t0 = performance.now();
  const m = await loadModel(path, { threads: Number(thr), backend: 'native', contextLength: 512, worker: false });
  const loadMs = performance.now() - t0;
  await m.generate([1, 2, 3, 4], { temperature: 0, maxTokens: 4, ignoreEos: true });
  models.push({ v, m, loadMs, cpu: [], wall: [], out: null });
}
const steps = Number(stepsArg);
for (let r = 0; r < Number(roundsArg); r++) {
  for (const x of r % 2 ? [...models].reverse() : models) {
    const prompt = Array.from({ length: 8 }, (_, i) => 100 + i * 37 + r);
    const c0 = process.cpuUsage();
    const res = await x.m.generate(prompt, { temperature: 0, maxTokens: steps, ignoreEos: true });
    const c = process.cpuUsage(c0);
    x.cpu.push((c.user + c.system) / 1e3 / res.tokens.length);
    x.wall.push(1e3 / res.timings.decodeTokensPerSecond);
    if (r === 0) x.out = res.tokens.join(',');
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
for (const x of models) console.log(JSON.stringify({ variant: x.v, loadMs: Math.round(x.loadMs), cpuMsPerTok: +med(x.cpu).toFixed(1), minCpu: +Math.min(...x.cpu).toFixed(1), wallMsPerTok: +med(x.wall).toFixed(1), sameTokens: x.out === models[0].out, cpu: x.cpu.map((c) => +c.toFixed(0)) }));
console.log('VmHWM MB', Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024);
