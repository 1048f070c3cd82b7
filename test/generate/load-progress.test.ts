/**
 * loadModel(path, { onProgress, signal }): load progress (monotonic fraction ending at exactly 1,
 * every block reported, the file's tensor count), cancellation with AbortError (cause = reason)
 * before and during the load, and no worker left behind after a cancelled load (a child process
 * that cancels a load exits on its own).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { AbortError } from '../../ts/errors/abort-error.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import type { ModelLoadProgress } from '../../ts/generate/load-progress.js';
import { loadModel } from '../../ts/generate/model.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-load-progress-'));
const path = join(dir, 'llama.gguf');
beforeAll(() => makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 2, gguf: path }));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function checkEvents(events: ModelLoadProgress[]): void {
  const layers = readGGUF(path).metadata.get('llama.block_count') as number;
  expect(events.every((e) => e.phase === 'load')).toBe(true);
  const fractions = events.map((e) => e.fraction);
  for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1]!);
  expect(fractions[0]).toBeGreaterThanOrEqual(0);
  expect(fractions.at(-1)).toBe(1);
  expect(fractions.filter((f) => f === 1)).toHaveLength(1);
  const built = events.flatMap((e) => (e.phase === 'load' && e.step === 'layers' ? [e.layersBuilt] : []));
  expect(built).toEqual(Array.from({ length: layers }, (_, i) => i + 1));
  const last = events.at(-1)!;
  if (last.phase !== 'load') throw new Error('unreachable');
  expect(last.step).toBe('ready');
  expect(last.tensors).toBe(readGGUF(path).tensors.length);
  expect(last.tensorBytes).toBeGreaterThan(0);
}

describe('loadModel onProgress', () => {
  it.each([true, false])('reports each block, monotonic, ending at 1 (worker: %s)', async (worker) => {
    const events: ModelLoadProgress[] = [];
    await using m = await loadModel(path, { backend: 'js', worker, onProgress: (p) => events.push(p) });
    checkEvents(events);
    expect((await m.generate([1, 2], { maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
  });

  it('a callback that throws fails the load with its error', async () => {
    await expect(loadModel(path, { backend: 'js', onProgress: () => { throw new RangeError('no thanks'); } })).rejects.toThrow('no thanks');
  });
});

describe('loadModel signal', () => {
  it('an already-aborted signal rejects at once with the reason as cause', async () => {
    const reason = new Error('changed my mind');
    const e = await loadModel(path, { signal: AbortSignal.abort(reason) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AbortError);
    expect(e).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((e as Error).cause).toBe(reason);
  });

  it.each([true, false])('aborting during the load rejects with AbortError (worker: %s)', async (worker) => {
    const ac = new AbortController();
    const e = await loadModel(path, { backend: 'js', worker, signal: ac.signal, onProgress: (p) => void (p.phase === 'load' && p.step === 'layers' && ac.abort('too slow')) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AbortError);
    expect((e as Error).cause).toBe('too slow');
  });

  it('a process that cancels a load exits by itself (the worker is gone)', async () => {
    const root = resolve(import.meta.dirname, '../..');
    const script = `
      import { loadModel } from ${JSON.stringify(join(root, 'ts/generate/model.ts'))};
      const ac = new AbortController();
      const e = await loadModel(${JSON.stringify(path)}, { backend: 'js', signal: ac.signal, onProgress: (p) => p.phase === 'load' && p.step === 'open' && ac.abort() }).catch((x) => x);
      console.log(e.name);`;
    const file = join(dir, 'cancel.mts');
    writeFileSync(file, script);
    const { stdout } = await promisify(execFile)(join(root, 'node_modules/.bin/tsx'), [file], { cwd: root, timeout: 30_000 });
    expect(stdout.trim()).toBe('AbortError');
  });
});
