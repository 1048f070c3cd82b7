/**
 * Step.outputRows: a step whose caller reads only some rows (a prompt's last row, the last row of
 * each batched sequence) runs the last block's MLP on those rows only. The rows it returns must be
 * the ones a full step computes, and the skipped work must really be skipped.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend } from '../../ts/backend/types.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { sequenceStep } from '../../ts/layers/step.js';
import { Workspace } from '../../ts/layers/workspace.js';
import { buildTransformer } from '../../ts/models/registry.js';
import type { Transformer } from '../../ts/models/transformer.js';
import { haveStories, nativeAvailable, stories, storiesMissing } from './helpers.js';

const T = 9;
const ids = Int32Array.from({ length: T }, (_, i) => 1 + ((i * 53 + 7) % 500));

/** The backend with every matmul's row count M recorded, in call order. */
function recording(b: Backend): { backend: Backend; ms: number[] } {
  const ms: number[] = [];
  const backend = new Proxy(b, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if ((key === 'matmulT' || key === 'matmulTMany') && typeof v === 'function') {
        return (...args: unknown[]) => {
          ms.push(args[3] as number);
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return v;
    },
  });
  return { backend, ms };
}

/** One step of `ids` from position 0 (the cache emptied first), returning a copy of what runStep returns. */
function run(m: Transformer, outputRows: Int32Array | null): Float32Array {
  m.cache.length = 0;
  const step = sequenceStep(T, 0, m.cache, ids);
  step.outputRows = outputRows;
  return m.runStep(step, new Workspace(T)).slice();
}

const opened: { close(): void }[] = [];
afterAll(() => {
  for (const f of opened) f.close();
});

// The JS backend computes a row the same way for any M, and so do the native integer kernels
// (q8_0: the GEMM and GEMV give bit-identical rows); native f32 rounds M = 1 differently (GEMV).
const cases = [
  { name: 'js, f32', path: stories.f32, backend: 'js' as const },
  { name: 'native, q8_0', path: stories.q8, backend: 'native' as const },
];

describe.skipIf(!haveStories)(`Step.outputRows ${haveStories ? '' : storiesMissing}`, () => {
  for (const c of cases) {
    it.skipIf(c.backend === 'native' && !nativeAvailable())(`${c.name}: the kept rows equal a full step's, and only they go through the last MLP`, async () => {
      const f = await openModelFile(c.path);
      opened.push(f);
      const full = recording(getBackend(c.backend));
      const all = run(buildTransformer(f, full.backend), null);
      const part = recording(getBackend(c.backend));
      const m = buildTransformer(f, part.backend);
      const dim = m.config.dim;
      const keep = Int32Array.of(0, 4, T - 1);
      const kept = run(m, keep);

      expect(kept.length).toBe(keep.length * dim);
      keep.forEach((r, i) => expect(kept.subarray(i * dim, (i + 1) * dim)).toEqual(all.subarray(r * dim, (r + 1) * dim)));

      // The same matmuls in the same order; the last block's MLP ones (after its output projection) have 3 rows.
      expect(full.ms.every((M) => M === T)).toBe(true);
      expect(part.ms.length).toBe(full.ms.length);
      const cut = part.ms.findIndex((M) => M !== T);
      expect(cut).toBeGreaterThan(0);
      expect(part.ms.slice(cut)).toEqual(Array(part.ms.length - cut).fill(keep.length));
      expect(part.ms.length - cut).toBe(2); // gate and up (one matmulTMany), down

      // No rows: the last MLP does not run at all (a prompt chunk before the last).
      part.ms.length = 0;
      expect(run(m, new Int32Array(0)).length).toBe(0);
      expect(part.ms.length).toBe(cut);
    });
  }

  it('forward without allLogits returns the last row of the full pass (js backend)', async () => {
    const f = await openModelFile(stories.f32);
    opened.push(f);
    const m = buildTransformer(f, getBackend('js'));
    const V = m.config.vocabSize;
    const all = new Float32Array(T * V);
    m.forward(ids, 0, all);
    m.cache.length = 0;
    expect(m.forward(ids, 0)).toEqual(all.subarray((T - 1) * V));
  });

  it('rows that are not ascending, or out of range, are refused by name', async () => {
    const f = await openModelFile(stories.f32);
    opened.push(f);
    const m = buildTransformer(f, getBackend('js'));
    expect(() => run(m, Int32Array.of(3, 2))).toThrow(/outputRows must be ascending rows in \[0, 9\), got 2 at index 1/);
    expect(() => run(m, Int32Array.of(9))).toThrow(/outputRows must be ascending rows in \[0, 9\), got 9 at index 0/);
  });
});
