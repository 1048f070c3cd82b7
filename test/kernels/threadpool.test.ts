/**
 * The shared thread pool under stress: more threads than cores (workers get preempted, so the
 * caller steals their chunks), jobs split into chunks at awkward boundaries, resizes between jobs,
 * and a second JS thread using the pool at the same time (its jobs run inline). Every result must
 * equal the single-thread result bit for bit: each output row is computed by exactly one chunk, so
 * the split never changes the arithmetic.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/index.js';
import { loadAddon } from '../../ts/native/addon.js';
import { randomF32, rng } from './helpers.js';

const be = getBackend('native');
const initialThreads = be.info().threads;
afterAll(() => be.setThreads(initialThreads));

// GEMV with N large enough that the matmul splits it across threads (≥ 64K multiply-adds per thread).
const K = 64;
const N = 4099;
const rand = rng(7);
const a = randomF32(K, rand);
const w = { dtype: 'f32' as const, rows: N, cols: K, data: randomF32(N * K, rand) };

function gemv(): Float32Array {
  const out = new Float32Array(N);
  be.matmulT(out, a, w, 1);
  return out;
}

describe('thread pool', () => {
  be.setThreads(1);
  const expected = gemv();

  it.each([2, 3, 5, 8])('gives the single-thread result with %i threads over many chunked jobs', (threads) => {
    be.setThreads(threads);
    expect(be.info().threads).toBe(threads);
    for (let i = 0; i < 400; i++) {
      const got = gemv();
      if (got.some((v, j) => v !== expected[j])) expect(Array.from(got)).toEqual(Array.from(expected));
    }
  });

  it('survives resizes between jobs', () => {
    for (let i = 0; i < 60; i++) {
      be.setThreads(1 + (i % 4));
      expect(Array.from(gemv())).toEqual(Array.from(expected));
    }
  });

  it('serves a second JS thread at the same time (its jobs run inline)', async () => {
    be.setThreads(2);
    const { path } = loadAddon();
    // A plain-JS worker that loads the same addon binary and runs the same GEMV in a loop.
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads');
      const addon = require(workerData.path);
      parentPort.postMessage('ready');
      parentPort.once('message', () => {
        const { K, N, a, w } = workerData;
        const out = new Float32Array(N);
        let mismatches = 0;
        for (let i = 0; i < 300; i++) {
          addon.matmulT(out, a, w, 0 /* GGML F32 */, N, K, 1);
          for (let j = 0; j < N; j++) if (out[j] !== workerData.expected[j]) { mismatches++; break; }
        }
        parentPort.postMessage(mismatches);
      });
      `,
      { eval: true, workerData: { path, K, N, a, w: w.data, expected } },
    );
    await new Promise((resolve) => worker.once('message', resolve));
    const done = new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    worker.postMessage('go');
    let mainMismatches = 0;
    for (let i = 0; i < 300; i++) if (gemv().some((v, j) => v !== expected[j])) mainMismatches++;
    expect(await done).toBe(0);
    expect(mainMismatches).toBe(0);
    await worker.terminate();
  });
});
