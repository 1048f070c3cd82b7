/**
 * The bench helpers that have logic (bench/llama-native.ts): parsing llama-bench's JSON and the
 * weight bytes a decode step reads. When the native llama-bench is built (bench/peers/build-llama.sh,
 * $TL_LLAMA_NATIVE) the parser also reads its real output on stories260K.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { llamaNativeTool, parseLlamaBenchJson, runLlamaBench, weightBytesPerToken } from '../../bench/llama-native.js';
import type { GGUFFile, GGUFTensorInfo } from '../../ts/formats/gguf.js';

/** Two tests as llama-bench's json_printer writes them (fields trimmed to a few of its ~40). */
const SAMPLE = `[
  {
    "build_commit": "de3ff81",
    "cpu_info": "Some CPU",
    "model_size": 115000000,
    "n_threads": 2,
    "n_prompt": 128,
    "n_gen": 0,
    "n_depth": 0,
    "avg_ns": 1000,
    "avg_ts": 1500.25,
    "stddev_ts": 3.5,
    "samples_ns": [ 1, 2 ],
    "samples_ts": [ 1497.0, 1503.5 ]
  },
  {
    "build_commit": "de3ff81",
    "cpu_info": "Some CPU",
    "model_size": 115000000,
    "n_threads": 2,
    "n_prompt": 0,
    "n_gen": 128,
    "n_depth": 0,
    "avg_ns": 1000,
    "avg_ts": 176.5,
    "stddev_ts": 1.0,
    "samples_ns": [ 1, 2 ],
    "samples_ts": [ 175.5, 177.5 ]
  }
]
`;

describe('parseLlamaBenchJson', () => {
  it('takes prefill from the pp test and decode from the tg test', () => {
    const r = parseLlamaBenchJson(SAMPLE);
    expect(r.prefillTps).toBe(1500.25);
    expect(r.decodeTps).toBe(176.5);
    expect(r.prefillSamples).toEqual([1497.0, 1503.5]);
    expect(r.decodeSamples).toEqual([175.5, 177.5]);
    expect(r.threads).toBe(2);
    expect(r.modelBytes).toBe(115000000);
    expect(r.buildCommit).toBe('de3ff81');
    expect(r.decodeDepth).toBe(0);
    expect(parseLlamaBenchJson(SAMPLE.replace('"n_gen": 128,\n    "n_depth": 0,', '"n_gen": 128,\n    "n_depth": 128,')).decodeDepth).toBe(128);
  });

  it('does not depend on the order of the tests', () => {
    const swapped = JSON.stringify((JSON.parse(SAMPLE) as unknown[]).reverse());
    expect(parseLlamaBenchJson(swapped).decodeTps).toBe(176.5);
  });

  it('names what is wrong in bad output', () => {
    expect(() => parseLlamaBenchJson('main: error: failed to load model')).toThrow(/not JSON/);
    expect(() => parseLlamaBenchJson('{}')).toThrow(/array/);
    const onlyPp = JSON.stringify([(JSON.parse(SAMPLE) as unknown[])[0]]);
    expect(() => parseLlamaBenchJson(onlyPp)).toThrow(/one generation \(tg\) test, found 0/);
    const noTs = SAMPLE.replace('"avg_ts": 176.5,', '');
    expect(() => parseLlamaBenchJson(noTs)).toThrow(/'avg_ts'/);
  });

  const stories = join(__dirname, '..', '..', '..', 'shared', 'models', 'stories260K', 'stories260K-f32.gguf');
  const tool = llamaNativeTool('llama-bench');
  const why = 'missing' in tool ? tool.missing : !existsSync(stories) ? `${stories} not found` : null;
  it.skipIf(why !== null)(`reads the real llama-bench's output${why ? ` (skipped: ${why})` : ''}`, async () => {
    const r = await runLlamaBench(stories, { prompt: 16, generate: 8, threads: 1, reps: 1, timeoutMs: 60_000 });
    if (typeof r === 'string') throw new Error(r);
    expect(r.threads).toBe(1);
    expect(r.prefillTps).toBeGreaterThan(0);
    expect(r.decodeTps).toBeGreaterThan(0);
    expect(r.decodeSamples).toHaveLength(1);
    expect(r.decodeDepth).toBe(0);
    const deep = await runLlamaBench(stories, { prompt: 16, generate: 8, threads: 1, reps: 1, decodeDepth: 16, timeoutMs: 60_000 });
    if (typeof deep === 'string') throw new Error(deep);
    expect(deep.decodeDepth).toBe(16);
    expect(deep.prefillTps).toBeGreaterThan(0);
    expect(deep.decodeTps).toBeGreaterThan(0);
  });
});

describe('weightBytesPerToken', () => {
  const tensor = (name: string, dims: number[], byteLength: number): GGUFTensorInfo =>
    ({ name, dims, type: 'F32', typeId: 0, offset: 0, relativeOffset: 0, byteLength, elements: dims.reduce((a, b) => a * b, 1) }) as GGUFTensorInfo;
  const file = (tensors: GGUFTensorInfo[], meta: Record<string, number | string> = {}): GGUFFile =>
    ({ metadata: new Map<string, number | string>([['general.architecture', 'llama'], ...Object.entries(meta)]), tensors }) as unknown as GGUFFile;

  it('reads one embedding row per token when the LM head is its own tensor', () => {
    // embedding 1000 rows × 64 cols f32 (256 B a row), LM head 256000 B, one layer weight 16384 B
    const g = file([tensor('token_embd.weight', [64, 1000], 256_000), tensor('output.weight', [64, 1000], 256_000), tensor('blk.0.attn_q.weight', [64, 64], 16_384)]);
    expect(weightBytesPerToken(g)).toBe(256 + 256_000 + 16_384);
  });

  it('reads the whole embedding when it is also the LM head (tied)', () => {
    const g = file([tensor('token_embd.weight', [64, 1000], 256_000), tensor('blk.0.attn_q.weight', [64, 64], 16_384)]);
    expect(weightBytesPerToken(g)).toBe(256_000 + 16_384);
  });

  it('reads only the used experts of a MoE layer', () => {
    const g = file(
      [tensor('token_embd.weight', [64, 1000], 256_000), tensor('output.weight', [64, 1000], 256_000), tensor('blk.0.ffn_up_exps.weight', [64, 128, 8], 8 * 32_768), tensor('blk.0.ffn_gate_inp.weight', [64, 8], 2048)],
      { 'llama.expert_count': 8, 'llama.expert_used_count': 2 },
    );
    expect(weightBytesPerToken(g)).toBe(256 + 256_000 + 2 * 32_768 + 2048);
  });
});
