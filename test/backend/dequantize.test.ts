/**
 * Every weight type's dequantize-row against gguf-py's numpy reference, bit for bit, on files
 * written by llama.cpp's quantizer: the shared stories260K-wide files (one per type or mix) and,
 * for the types no shared file holds, files made here with llama-quantize.sh.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantizeWeights } from '../../ts/backend/quants/index.js';
import { DTYPES, WEIGHT_TYPES } from '../../ts/backend/weight-types.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { tensorWeights, type TensorEntry } from '../../ts/formats/tensor-data.js';
import { ggufPyMissing, haveWide, llamaQuantize, numpyDequantize, quantizeMissing, type TensorValues, wideFile, wideMissing } from './quant-references.js';

const SHARED = ['f16', 'q8_0', 'q6_k', 'q5_k_m', 'q5_1', 'q5_0', 'q4_k_m', 'q4_1', 'q4_0', 'q3_k_m', 'q2_k', 'iq4_nl'];
/** Made here: types (or mixes) whose main type no shared file holds. */
const MADE = ['q4_k_s', 'q3_k_s', 'iq4_xs', 'bf16'];

/** Our f32 values of every tensor of a GGUF file, by GGUF name. */
function ours(path: string): Map<string, { type: string; values: Float32Array }> {
  const bytes = new Uint8Array(readFileSync(path));
  const g = readGGUF(bytes);
  const out = new Map<string, { type: string; values: Float32Array }>();
  for (const t of g.tensors) {
    const entry: TensorEntry = { name: t.name, type: t.type, shape: [...t.dims].reverse(), offset: t.offset, byteLength: t.byteLength, file: 0 };
    out.set(t.name, { type: t.type, values: dequantizeWeights(tensorWeights(bytes, entry)) });
  }
  return out;
}

const skip = ggufPyMissing ?? (haveWide ? null : wideMissing);
const covered = new Set<string>();

describe.skipIf(skip !== null)(`dequantize-row vs gguf-py (numpy), bit-exact${skip ? ` (${skip})` : ''}`, () => {
  const files = new Map<string, string>(SHARED.map((t) => [t, wideFile(t)]));
  let want = new Map<string, TensorValues>();
  beforeAll(() => {
    if (quantizeMissing === null) for (const t of MADE) files.set(t, llamaQuantize(wideFile('f32'), t));
    want = numpyDequantize([...files.values()]);
  }, 180_000);

  const check = (t: string) => {
    it(`stories260K-wide ${t}${MADE.includes(t) ? ' (made by llama-quantize.sh)' : ''}`, () => {
      const p = files.get(t)!;
      const ref = want.get(p)!;
      const got = ours(p);
      expect([...got.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const [name, w] of ref) {
        const g = got.get(name)!;
        expect(g.type, name).toBe(w.type);
        expect(g.values.length, name).toBe(w.values.length);
        // compare bit patterns (so -0 vs 0 and NaN payloads count)
        const a = new Uint32Array(g.values.buffer, g.values.byteOffset, g.values.length);
        const b = new Uint32Array(w.values.buffer, w.values.byteOffset, w.values.length);
        let bad = -1;
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) { bad = i; break; }
        expect(bad, `${name} (${w.type}) first differing element ${bad}: ${g.values[bad]} vs ${w.values[bad]}`).toBe(-1);
        covered.add(w.type);
      }
    });
  };
  for (const t of SHARED) check(t);
  describe.skipIf(quantizeMissing !== null)(`files made with llama-quantize.sh${quantizeMissing ? ` (${quantizeMissing})` : ''}`, () => {
    for (const t of MADE) check(t);
    it('together the files cover every weight type but f32 (a plain view)', () => {
      const all = DTYPES.filter((d) => d !== 'f32').map((d) => WEIGHT_TYPES[d].ggmlName).sort();
      expect([...covered].filter((t) => all.includes(t)).sort()).toEqual(all);
    });
  });
});
