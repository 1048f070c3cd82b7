/**
 * YaRN's cos/sin magnitude from a Hugging Face config.json, as transformers computes it:
 * `attention_factor` when given, else get(mscale) / get(mscale_all_dim) when both are set, else
 * get(1) = 1 + 0.1 ln(factor). tensorloom keeps it relative to llama.cpp's built-in get(1)
 * (RopeScaling.attnFactor) and the converter writes it as rope.scaling.attn_factor, which llama.cpp
 * multiplies in (the random llama yarn model of random-parity.test.ts, attention_factor 0.8, matches
 * llama.cpp past its original context through that key).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { convertModel } from '../../ts/models/convert.js';
import { describeModel } from '../../ts/models/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-yarn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const hf = join(dir, 'hf');
makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 2, hf, ropeScaling: 'yarn' });
const base = JSON.parse(readFileSync(join(hf, 'config.json'), 'utf8')) as Record<string, unknown> & { rope_scaling: Record<string, unknown> };
const get = (m: number) => 0.1 * m * Math.log(4) + 1; // factor 4

function withRope(rope: Record<string, unknown>) {
  writeFileSync(join(hf, 'config.json'), JSON.stringify({ ...base, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64, ...rope } }));
  const f = openModelFile(hf);
  try {
    return describeModel(f).config.ropeScaling!;
  } finally {
    f.close();
  }
}

describe('YaRN magnitude from config.json', () => {
  it('attention_factor is the whole magnitude; it reaches the GGUF where llama.cpp reads it', () => {
    const s = withRope({ attention_factor: 0.8 });
    expect(s.attnFactor! * get(1)).toBeCloseTo(0.8, 6);
    expect(s.yarnAttnFactor).toBe(Math.fround(0.8));
    const out = join(dir, 'y.gguf');
    const f = openModelFile(hf);
    try {
      convertModel(f, out, { type: 'f32' });
    } finally {
      f.close();
    }
    const g = readGGUF(out);
    expect(g.metadata.get('llama.rope.scaling.attn_factor')).toBe(s.attnFactor);
    expect(g.metadata.get('llama.rope.scaling.yarn_attn_factor')).toBe(Math.fround(0.8));
  });
  it('mscale and mscale_all_dim (both set) give get(mscale) / get(mscale_all_dim)', () => {
    const s = withRope({ mscale: 2, mscale_all_dim: 1 });
    expect(s.attnFactor! * get(1)).toBeCloseTo(get(2) / get(1), 6);
    expect(s.yarnAttnFactor).toBeUndefined();
  });
  it('neither: YaRN default magnitude (no attn_factor key)', () => {
    const s = withRope({ mscale: 1 });
    expect(s.attnFactor).toBeUndefined();
  });
  it('a bad attention_factor names the key', () => {
    expect(() => withRope({ attention_factor: -1 })).toThrow(/rope_scaling\.attention_factor must be a finite number > 0, got -1/);
  });
});
