/**
 * AB_A=a.node AB_B=b.node TENSORLOOM_ADDON=bench/ab/dual-addon.cjs \
 *   npx tsx bench/ab/encode-ab.ts MODEL.gguf [--threads=2] [--pairs=16] [--source=128]
 *
 * A/B of two addon builds on an encoder-decoder's encode (T5: the encoder stack and the cross K/V),
 * both builds loaded in this one process and alternating encode by encode (ABBA order), so load
 * from other processes on a shared machine hits both alike. Prints the medians of per-encode
 * process CPU time and wall time for each, the median of the per-pair ratios B/A, and in how many
 * pairs B used less CPU. (An A/A run on the loaded 2-core VM gave 0.977, B lower in 9/16: treat
 * a few % as noise.)
 */
import { getBackend } from '../../ts/backend/index.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { buildEncoderDecoder } from '../../ts/models/registry.js';
import { median } from '../lib.js';

const args = process.argv.slice(2);
const opt = (name: string, def: number): number => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const path = args.find((a) => !a.startsWith('--'));
if (!path || !process.env.AB_A || !process.env.AB_B) {
  console.error('usage: AB_A=a.node AB_B=b.node TENSORLOOM_ADDON=bench/ab/dual-addon.cjs npx tsx bench/ab/encode-ab.ts MODEL.gguf [--threads=N] [--pairs=N] [--source=N]');
  process.exit(2);
}
const threads = opt('threads', 2);
const pairs = opt('pairs', 16);
const backend = getBackend('native');
backend.setThreads(threads);
using mf = openModelFile(path);
const m = buildEncoderDecoder(mf, backend);
let x = 12345;
const ids = Int32Array.from([
  ...Array.from({ length: opt('source', 128) - 1 }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 3 + (x % (m.config.vocabSize - 3));
  }),
  1,
]);
const g = globalThis as { __tlAbUseB?: boolean };
function encode(useB: boolean): { cpu: number; wall: number } {
  g.__tlAbUseB = useB;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  m.encode(ids);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}
for (let i = 0; i < 2; i++) {
  encode(false);
  encode(true);
}
const a: { cpu: number; wall: number }[] = [];
const b: { cpu: number; wall: number }[] = [];
for (let i = 0; i < pairs; i++) {
  if (i % 2) {
    a.push(encode(false));
    b.push(encode(true));
  } else {
    b.push(encode(true));
    a.push(encode(false));
  }
}
const cpuRatio = median(a.map((p, i) => b[i]!.cpu / p.cpu));
const wallRatio = median(a.map((p, i) => b[i]!.wall / p.wall));
const lower = a.filter((p, i) => b[i]!.cpu < p.cpu).length;
const f = (v: number): string => v.toFixed(1);
console.log(
  `${threads} thread(s), ${ids.length}-token source: A cpu ${f(median(a.map((p) => p.cpu)))} ms wall ${f(median(a.map((p) => p.wall)))} ms | ` +
    `B cpu ${f(median(b.map((p) => p.cpu)))} ms wall ${f(median(b.map((p) => p.wall)))} ms | B/A cpu ${cpuRatio.toFixed(3)} (B lower in ${lower}/${pairs}) wall ${wallRatio.toFixed(3)}`,
);
