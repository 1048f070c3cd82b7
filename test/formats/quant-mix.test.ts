/**
 * `convert --type <mix>` against llama.cpp's quantizer (llama-quantize.sh) on the same f32 file:
 * every tensor must get the type llama.cpp chose (mix rules, layer-dependent bumps, block
 * fallbacks), and for two mixes the whole converted tensor data must be byte-identical.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { run as convertCli } from '../../ts/cli/convert.js';
import { convertModel } from '../../ts/models/convert.js';
import { resolveModel } from '../../ts/models/architectures.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { chooseTensorTypes, QUANT_MIXES } from '../../ts/formats/quant-mix.js';
import { WEIGHT_TYPES } from '../../ts/backend/weight-types.js';
import { haveWide, llamaQuantize, quantizeMissing, wideFile, wideMissing } from '../backend/quant-references.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-mix-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SHARED = ['q8_0', 'q6_k', 'q5_k_m', 'q5_1', 'q5_0', 'q4_k_m', 'q4_1', 'q4_0', 'q3_k_m', 'q2_k', 'iq4_nl'];
const MADE = ['q3_k_s', 'q3_k_l', 'q4_k_s', 'q5_k_s', 'iq4_xs'];

/** Our per-tensor GGML type names for a mix, on the model in `path`. */
function ourTypes(path: string, mix: string): Map<string, string> {
  using m = openModelFile(path);
  const c = resolveModel(m).config;
  const chosen = chooseTensorTypes([...m.tensors.values()], { arch: 'llama', nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads }, mix);
  return new Map([...chosen].map(([name, t]) => [name, t ? WEIGHT_TYPES[t].ggmlName : 'F32']));
}

function theirTypes(path: string): Map<string, string> {
  return new Map(readGGUF(readFileSync(path)).tensors.map((t) => [t.name, t.type as string]));
}

describe.skipIf(!haveWide)(`quantization mixes choose llama.cpp's type per tensor${haveWide ? '' : ` (${wideMissing})`}`, () => {
  for (const mix of SHARED) {
    it(`${mix} (stories260K-wide, 256-wide rows)`, () => {
      expect(ourTypes(wideFile('f32'), mix)).toEqual(theirTypes(wideFile(mix)));
    });
  }
  describe.skipIf(quantizeMissing !== null)(`files made with llama-quantize.sh${quantizeMissing ? ` (${quantizeMissing})` : ''}`, () => {
    for (const mix of MADE) {
      it(`${mix} (stories260K-wide)`, () => {
        expect(ourTypes(wideFile('f32'), mix)).toEqual(theirTypes(llamaQuantize(wideFile('f32'), mix)));
      });
    }
    it('block fallbacks on rows of 64 and 160 (a tiny random Llama): every mix', () => {
      const src = join(dir, 'tiny-f32.gguf');
      makeRandomModel({ arch: 'llama', size: 'tiny', seed: 7, gguf: src });
      for (const mix of Object.keys(QUANT_MIXES)) {
        if (QUANT_MIXES[mix]!.pure || WEIGHT_TYPES[QUANT_MIXES[mix]!.base].storage !== 'blocks') continue;
        expect(ourTypes(src, mix), mix).toEqual(theirTypes(llamaQuantize(src, mix)));
      }
    }, 120_000);
  });

  for (const mix of ['q4_k_m', 'q3_k_m']) {
    it(`convert --type ${mix}: every tensor byte-identical to llama.cpp's file`, () => {
      const out = join(dir, `${mix}.gguf`);
      using m = openModelFile(wideFile('f32'));
      convertModel(m, out, { type: mix });
      const ob = readFileSync(out), tb = readFileSync(wideFile(mix));
      const ours = readGGUF(ob), theirs = readGGUF(tb);
      expect(ours.metadata.get('general.file_type')).toBe(theirs.metadata.get('general.file_type'));
      expect(ours.tensors.map((t) => t.name).sort()).toEqual(theirs.tensors.map((t) => t.name).sort());
      for (const t of ours.tensors) {
        const u = theirs.tensors.find((x) => x.name === t.name)!;
        expect(t.type, t.name).toBe(u.type);
        expect(Buffer.compare(ob.subarray(t.offset, t.offset + t.byteLength), tb.subarray(u.offset, u.offset + u.byteLength)), t.name).toBe(0);
      }
    });
  }

  it('the CLI accepts every type and mix name, and refuses others', async () => {
    const out = join(dir, 'cli.gguf');
    expect(await convertCli([wideFile('f32'), out, '--type', 'q4_k_s', '--quiet'])).toBe(0);
    expect(readGGUF(readFileSync(out)).tensors.find((t) => t.name === 'blk.0.attn_q.weight')!.type).toBe('Q4_K');
    expect(await convertCli([wideFile('f32'), join(dir, 'x.gguf'), '--type', 'iq2_xs', '--quiet'])).toBe(2);
  });
});
