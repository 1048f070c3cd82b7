/**
 * KVCache.copyPrefixFrom, which n > 1 choices use to share one prompt's prefill: the copy holds the
 * source's first positions exactly (f32 and f16), leaves the rest alone, carries a recurrent state
 * (hybrid models) only when it is exactly at the copied length, and refuses caches of other shapes.
 */
import { describe, expect, it } from 'vitest';
import { KVCache } from '../../ts/layers/kv-cache.js';

function filled(dtype: 'f32' | 'f16'): KVCache {
  const c = new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4, dtype });
  for (let l = 0; l < 2; l++) {
    c.keys(l).forEach((_, i, a) => (a[i] = 1 + i + 100 * l));
    c.values(l).forEach((_, i, a) => (a[i] = 5000 + i + 100 * l));
  }
  c.length = 6;
  return c;
}

describe('KVCache.copyPrefixFrom', () => {
  it.each(['f32', 'f16'] as const)('%s: the first positions are copied exactly, the rest untouched, length set', (dtype) => {
    const src = filled(dtype);
    const dst = new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4, dtype });
    dst.keys(1).fill(7);
    dst.copyPrefixFrom(src, 5);
    expect(dst.length).toBe(5);
    const n = 5 * 8;
    for (let l = 0; l < 2; l++) {
      expect(Array.from(dst.keys(l).subarray(0, n))).toEqual(Array.from(src.keys(l).subarray(0, n)));
      expect(Array.from(dst.values(l).subarray(0, n))).toEqual(Array.from(src.values(l).subarray(0, n)));
    }
    expect(Array.from(dst.keys(1).subarray(n))).toEqual(new Array(8 * 8 - n).fill(7));
  });

  it('refuses more positions than the source holds, and caches of another shape or type', () => {
    const src = filled('f32');
    expect(() => new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4 }).copyPrefixFrom(src, 7)).toThrow(/7 positions asked, the source holds 6/);
    expect(() => new KVCache({ layers: 2, maxSeq: 8, kvHeads: 1, headDim: 4 }).copyPrefixFrom(src, 2)).toThrow(/other shapes or types/);
    expect(() => new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4, dtype: 'f16' }).copyPrefixFrom(src, 2)).toThrow(/other shapes or types/);
  });

  it('a recurrent state goes along when it holds exactly the copied positions, else the copy is refused', () => {
    const spec = [{ size: 3, owner: 'R' }, { size: 0, owner: 'attention' }];
    const src = new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4, recurrent: spec });
    src.recurrent!.layer(0, spec[0]!).set([1, 2, 3]);
    src.recurrent!.length = 4;
    src.length = 4;
    const dst = new KVCache({ layers: 2, maxSeq: 8, kvHeads: 2, headDim: 4, recurrent: spec });
    dst.copyPrefixFrom(src, 4);
    expect(Array.from(dst.recurrent!.layer(0, spec[0]!))).toEqual([1, 2, 3]);
    expect(dst.recurrent!.length).toBe(4);
    expect(() => dst.copyPrefixFrom(src, 3)).toThrow(/recurrent state holds 4 tokens, not 3/);
  });
});
