/**
 * npx tsx bench/ab/serve-step.ts MODEL.gguf [STEPS=80] [WRAP=60]
 *
 * CPU ms of one batched decode step of the serving engine (ts/server/model-engine.ts): 16 slots,
 * each prefilled with 8 tokens, then STEPS steps of 16 decode rows (positions 8 … 8 + WRAP − 1,
 * wrapping, so the KV cache pages are touched once and later steps see no page faults), the
 * forward pass and the sampling (temperature 0.8, whole vocabulary) timed apart; prints the medians.
 * 1 thread. A/B two addon builds by running it alternately with TENSORLOOM_ADDON=/path/to/other.node.
 */
import { loadEngine } from '../../ts/server/model-engine.js';

const [file, stepsArg = '80', wrapArg = '60'] = process.argv.slice(2);
if (!file) throw new Error('usage: npx tsx bench/ab/serve-step.ts MODEL.gguf [STEPS] [WRAP]');
const SLOTS = 16, PROMPT = 8;
const steps = Number(stepsArg), wrap = Number(wrapArg);
const loaded = await loadEngine({ model: file, slots: SLOTS, contextLength: 256, maxTokensPerStep: 64, threads: 1 });
const e = loaded.engine;
const V = e.vocabSize;
const samplers = Array.from({ length: SLOTS }, (_, s) => loaded.makeSampler({ temperature: 0.8, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0, seed: s }, s));
const history = new Int32Array(256);
for (let s = 0; s < SLOTS; s += 4) {
  e.forward(Array.from({ length: 4 }, (_, i) => ({ slot: s + i, pos: 0, tokens: Int32Array.from({ length: PROMPT }, (_, j) => 1 + (((s + i) * 13 + j * 7) % 1000)), wantLogits: true })));
}
const next = new Int32Array(SLOTS).fill(5);
const fwd: number[] = [], samp: number[] = [];
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e3;
for (let st = 0; st < steps; st++) {
  const rows = Array.from({ length: SLOTS }, (_, s) => ({ slot: s, pos: PROMPT + (st % wrap), tokens: Int32Array.of(next[s]!), wantLogits: true }));
  const c0 = process.cpuUsage();
  const logits = e.forward(rows);
  fwd.push(cpuMs(process.cpuUsage(c0)));
  const c1 = process.cpuUsage();
  for (let s = 0; s < SLOTS; s++) next[s] = samplers[s]!(logits.subarray(s * V, (s + 1) * V), history, PROMPT + st);
  samp.push(cpuMs(process.cpuUsage(c1)));
}
const median = (a: number[]): number => a.slice().sort((x, y) => x - y)[a.length >> 1]!;
console.log(`${SLOTS}-row decode step: forward ${median(fwd).toFixed(2)} ms, sampling ${median(samp).toFixed(2)} ms (CPU, medians of ${steps} steps)`);
e.dispose();
