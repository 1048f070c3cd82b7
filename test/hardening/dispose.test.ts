/**
 * Disposing a model that never generated must not take the process down. Node unloads a native
 * addon when the worker thread that first loaded it exits, while the kernels' thread pool (one per
 * process) still runs the library's code: before the addon pinned itself in memory
 * (native/binding/addon.cpp), about half of these runs ended in SIGSEGV.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { storiesDir } from '../formats/helpers.js';

const model = join(storiesDir, 'stories260K-f32.gguf');
const generateIndex = JSON.stringify(new URL('../../ts/generate/index.ts', import.meta.url).href);

describe.skipIf(!existsSync(model))('a model disposed right after loading (needs ../shared/models/stories260K)', () => {
  it('exits cleanly every time (8 fresh processes)', () => {
    const code = `
      const { loadModel } = await import(${generateIndex});
      const m = await loadModel(${JSON.stringify(model)}, { threads: 2 });
      await m.dispose();
      console.log('disposed');`;
    for (let i = 0; i < 8; i++) {
      const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
      expect({ run: i, status: r.status, signal: r.signal, out: r.stdout.trim() }).toEqual({ run: i, status: 0, signal: null, out: 'disposed' });
    }
  }, 180_000);
});
