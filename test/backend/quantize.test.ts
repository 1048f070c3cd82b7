/**
 * Our quantizers against llama.cpp's: every tensor of every llama.cpp-quantized stories260K-wide
 * file is quantized again here, from the same f32 file, to the type llama.cpp chose for it, and
 * must come out byte for byte the same. No importance matrix is involved, so every type is
 * deterministic. (Which type each tensor gets is test/formats/quant-mix.test.ts's subject.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quantizeRows } from '../../ts/backend/quants/index.js';
import { DTYPES, typeByGgmlName, WEIGHT_TYPES } from '../../ts/backend/weight-types.js';
import { readGGUF, type GGUFFile } from '../../ts/formats/gguf.js';
import { haveWide, llamaQuantize, quantizeMissing, wideFile, wideMissing } from './quant-references.js';

const SHARED = ['q8_0', 'q6_k', 'q5_k_m', 'q5_1', 'q5_0', 'q4_k_m', 'q4_1', 'q4_0', 'q3_k_m', 'q2_k', 'iq4_nl'];
const MADE = ['q4_k_s', 'q3_k_s', 'iq4_xs'];

function load(path: string): { bytes: Uint8Array; g: GGUFFile } {
  const bytes = new Uint8Array(readFileSync(path));
  return { bytes, g: readGGUF(bytes) };
}

describe.skipIf(!haveWide)(`our quantizers are byte-exact with llama.cpp's${haveWide ? '' : ` (${wideMissing})`}`, () => {
  const covered = new Set<string>();
  const check = (t: string, path: () => string) => {
    it(`stories260K-wide ${t}`, () => {
      const src = load(wideFile('f32'));
      const ref = load(path());
      let tensors = 0;
      for (const r of ref.g.tensors) {
        const type = typeByGgmlName(r.type);
        if (!type || type.storage !== 'blocks') continue;
        const s = src.g.tensors.find((x) => x.name === r.name)!;
        expect(s.type, r.name).toBe('F32');
        const f32 = new Float32Array(src.bytes.slice(s.offset, s.offset + s.byteLength).buffer);
        const ours = quantizeRows(type.name, f32, r.dims[0]!) as Uint8Array;
        const theirs = ref.bytes.subarray(r.offset, r.offset + r.byteLength);
        expect(ours.length, r.name).toBe(theirs.length);
        let bad = -1;
        for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) { bad = i; break; }
        const block = Math.floor(bad / type.blockBytes);
        expect(bad, `${r.name} (${r.type}): first differing byte ${bad} (block ${block}, byte ${bad % type.blockBytes} of ${type.blockBytes})`).toBe(-1);
        covered.add(type.name);
        tensors++;
      }
      expect(tensors).toBeGreaterThan(0);
    });
  };
  for (const t of SHARED) check(t, () => wideFile(t));
  describe.skipIf(quantizeMissing !== null)(`files made with llama-quantize.sh${quantizeMissing ? ` (${quantizeMissing})` : ''}`, () => {
    for (const t of MADE) check(`${t} (made by llama-quantize.sh)`, () => llamaQuantize(wideFile('f32'), t));
    it('together the files cover every quantized type', () => {
      const want = DTYPES.filter((d) => WEIGHT_TYPES[d].storage === 'blocks');
      expect([...covered].sort()).toEqual([...want].sort());
    });
  });
});
