/**
 * Bad model files and mismatched inputs give clear errors (naming what is wrong), through the
 * public loadModel — so the message also survives the trip back from the worker — and never
 * crash the process. Variants of a valid random-weight GGUF are written with the GGUF writer.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel, type MakeOptions } from '../../scripts/make-random-model.js';
import { ARCHITECTURES, UnsupportedArchitectureError } from '../../ts/models/architectures.js';
import { u32, type GGUFWriteTensor, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { loadModel } from '../../ts/generate/model.js';
import { writeSafetensors } from '../../ts/formats/safetensors-writer.js';
import { haveStories, nativeAvailable, rewriteGGUF, shared, stories, type GGUFEdit } from './helpers.js';

const backend = nativeAvailable() ? 'native' : 'js';
const dir = mkdtempSync(join(tmpdir(), 'tl-bad-input-'));
const good = join(dir, 'good.gguf');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `good` (or `base`) rewritten with edited metadata and tensors. */
const variant = (name: string, edit: GGUFEdit, base = good): string => rewriteGGUF(base, join(dir, `${name}.gguf`), edit);

describe('bad input → clear errors', () => {
  beforeAll(() => {
    makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 3, gguf: good });
  });

  it('the unedited file loads and generates (the variants below differ only in what they break)', async () => {
    const m = await loadModel(good, { backend });
    try {
      expect((await m.generate([1, 2, 3], { temperature: 0, maxTokens: 4, ignoreEos: true })).tokens).toHaveLength(4);
    } finally {
      await m.dispose();
    }
  });

  it('unknown architecture (GGUF general.architecture)', async () => {
    const p = variant('mamba', (meta) => {
      for (const [k, v] of [...meta]) {
        if (k.startsWith('llama.')) {
          meta.delete(k);
          meta.set(`mamba.${k.slice(6)}`, v);
        }
      }
      meta.set('general.architecture', 'mamba');
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/unsupported architecture 'mamba'.*supported: llama/);
  });

  it('unknown architecture (Hugging Face config.json)', async () => {
    const hf = join(dir, 'hf-unknown');
    mkdirSync(hf);
    writeFileSync(join(hf, 'config.json'), JSON.stringify({ architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: 64 }));
    writeSafetensors(join(hf, 'model.safetensors'), [{ name: 'x', dtype: 'F32', shape: [1], data: new Float32Array(1) }]);
    await expect(loadModel(hf, { backend })).rejects.toThrow(/unsupported architecture 'MambaForCausalLM'/);
  });

  it('a missing tensor is named', async () => {
    const p = variant('missing', (_m, tensors) => {
      tensors.splice(tensors.findIndex((t) => t.name === 'blk.1.ffn_gate.weight'), 1);
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/blk\.1\.ffn_gate\.weight.*missing/);
  });

  it('a tensor of the wrong shape is named with its shape and the expected one', async () => {
    const p = variant('shape', (_m, tensors) => {
      const q = tensors.find((t) => t.name === 'blk.0.attn_q.weight')!;
      const k = tensors.find((t) => t.name === 'blk.0.attn_k.weight')!;
      k.dims = q.dims; // [64, 64] where [32, 64] is expected (2 of 4 KV heads)
      k.data = q.data;
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/layer 0 attention k \(blk\.0\.attn_k\.weight\) is \[64, 64\], expected \[32, 64\]/);
  });

  it('inconsistent hyperparameters (heads not a multiple of KV heads)', async () => {
    const p = variant('heads', (meta) => {
      meta.set('llama.attention.head_count_kv', { type: 4, value: 3 });
    });
    await expect(loadModel(p, { backend })).rejects.toThrow(/heads\.gguf: llama\.attention\.head_count_kv = 3 must divide the \d+ attention heads/);
  });

  it.skipIf(!haveStories)('a tokenizer whose vocabulary does not match the model', async () => {
    const vocab = join(shared, 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-llama-spm.gguf');
    await expect(loadModel(stories.bin, { backend, tokenizer: vocab })).rejects.toThrow(/tokenizer has 32000 tokens but the model's vocabulary is 512/);
  });

  it('a truncated file', async () => {
    const bytes = readFileSync(good);
    const p = join(dir, 'truncated.gguf');
    writeFileSync(p, bytes.subarray(0, bytes.length - 1000));
    await expect(loadModel(p, { backend })).rejects.toThrow(/outside the .*file|truncated/);
  });

  it('the process survives all of the above and still generates', async () => {
    const m = await loadModel(good, { backend, worker: false });
    try {
      expect((await m.generate([1], { temperature: 0, maxTokens: 2, ignoreEos: true })).tokens).toHaveLength(2);
    } finally {
      await m.dispose();
    }
  });
});

describe('bad input of the newer families → errors naming the tensor or key', () => {
  const qwen3 = join(dir, 'qwen3.gguf');
  const qwen3moe = join(dir, 'qwen3moe.gguf');
  const mixtral = join(dir, 'mixtral.gguf');
  const llama3 = join(dir, 'llama3.gguf');
  beforeAll(() => {
    makeRandomModel({ arch: 'qwen3', size: 'tiny', seed: 3, gguf: qwen3 });
    makeRandomModel({ arch: 'qwen3moe', size: 'tiny', seed: 3, gguf: qwen3moe });
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 3, experts: 4, gguf: mixtral });
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 3, ropeScaling: 'llama3', gguf: llama3 });
  });
  const drop = (name: string) => (_m: Map<string, GGUFWriteValue>, tensors: GGUFWriteTensor[]) => {
    const i = tensors.findIndex((t) => t.name === name);
    expect(i, name).toBeGreaterThanOrEqual(0);
    tensors.splice(i, 1);
  };

  it('qwen3 without its per-head q norm', async () => {
    await expect(loadModel(variant('q3-no-qnorm', drop('blk.1.attn_q_norm.weight'), qwen3), { backend })).rejects.toThrow(/blk\.1\.attn_q_norm\.weight.*missing/);
  });

  it('qwen3 with a q norm of the wrong length', async () => {
    const p = variant('q3-qnorm-shape', (_m, tensors) => {
      const t = tensors.find((x) => x.name === 'blk.0.attn_q_norm.weight')!;
      t.dims = [8];
      t.data = (t.data as Uint8Array).subarray(0, 32);
    }, qwen3);
    await expect(loadModel(p, { backend })).rejects.toThrow(/layer 0 attention q norm \(blk\.0\.attn_q_norm\.weight\) has 8 elements, expected 16/);
  });

  it('qwen3moe whose expert_count does not match the router and expert tensors', async () => {
    const p = variant('q3m-count', (meta) => meta.set('qwen3moe.expert_count', u32(6)), qwen3moe);
    await expect(loadModel(p, { backend })).rejects.toThrow(/blk\.0\.ffn_gate_inp\.weight routes to 8 experts, but qwen3moe\.expert_count is 6/);
  });

  it('Mixtral whose stacked expert tensor holds fewer experts than expert_count', async () => {
    const p = variant('mix-stack', (_m, tensors) => {
      const t = tensors.find((x) => x.name === 'blk.1.ffn_up_exps.weight')!;
      t.dims = [t.dims[0]!, t.dims[1]!, 3];
      t.data = (t.data as Uint8Array).subarray(0, ((t.data as Uint8Array).length / 4) * 3);
    }, mixtral);
    await expect(loadModel(p, { backend })).rejects.toThrow(/blk\.1\.ffn_up_exps\.weight has shape \[3, 160, 64\], expected \[4, out, in\] \(llama\.expert_count = 4\)/);
  });

  it('more experts used per token than there are', async () => {
    const p = variant('mix-used', (meta) => meta.set('llama.expert_used_count', u32(5)), mixtral);
    await expect(loadModel(p, { backend })).rejects.toThrow(/llama\.expert_used_count \(5\) is larger than llama\.expert_count \(4\)/);
  });

  it('a Mixtral expert tensor missing', async () => {
    await expect(loadModel(variant('mix-missing', drop('blk.0.ffn_down_exps.weight'), mixtral), { backend })).rejects.toThrow(/blk\.0\.ffn_down_exps\.weight.*missing/);
  });

  it('Llama 3 rope_freqs of the wrong length', async () => {
    const p = variant('l3-freqs', (_m, tensors) => {
      const t = tensors.find((x) => x.name === 'rope_freqs.weight')!;
      t.dims = [4];
      t.data = (t.data as Uint8Array).subarray(0, 16);
    }, llama3);
    await expect(loadModel(p, { backend })).rejects.toThrow(/rope_freqs\.weight has 4 elements, expected 8/);
  });

  it('a RoPE scaling type we do not run', async () => {
    const p = variant('l3-longrope', (meta) => meta.set('llama.rope.scaling.type', 'longrope'), llama3);
    await expect(loadModel(p, { backend })).rejects.toThrow(/llama\.rope\.scaling\.type 'longrope' is not supported/);
  });

  it('a sliding window larger than the context', async () => {
    const p = join(dir, 'mistral3-swa.gguf');
    makeRandomModel({ arch: 'mistral3', size: 'tiny', seed: 3, slidingWindow: 16, gguf: p });
    const m = await loadModel(p, { backend });
    await m.dispose(); // the declared window of 16 loads
    const bad = variant('m3-window', (meta) => meta.set('mistral3.attention.sliding_window', u32(4096)), p);
    await expect(loadModel(bad, { backend })).rejects.toThrow(/mistral3\.attention\.sliding_window \(4096\) is larger than the context length \(256\)/);
  });

  it('an unknown architecture lists every family of the table', async () => {
    const p = variant('unknown-arch', (meta) => meta.set('general.architecture', 'rwkv9'), qwen3);
    await expect(loadModel(p, { backend })).rejects.toThrow(/unsupported architecture 'rwkv9'; supported: llama, mistral, qwen2, qwen3, qwen3moe, smollm3, mistral3, gemma2, gemma3, gemma4, phi3, gpt2, qwen35, qwen35moe, qwen3next, bert, .*nomic-bert.*LlamaForCausalLM/);
  });
});

/**
 * One row per decoder family of the architecture table: a tensor the family needs left out, and
 * one of the wrong shape, each named in the error (the loader's check or the Transformer's, which
 * says the file's tensor name and the expected shape). The family-specific checks (expert counts,
 * LongRoPE factors, per-layer inputs …) are above, in gemma-phi.test.ts and in gemma4.test.ts.
 */
describe('every family of the table: a missing tensor and a wrong-shaped one are named', () => {
  const half = (name: string) => (_m: Map<string, GGUFWriteValue>, tensors: GGUFWriteTensor[]) => {
    const t = tensors.find((x) => x.name === name);
    expect(t, name).toBeDefined();
    const dims = [...t!.dims];
    dims[dims.length - 1] = dims[dims.length - 1]! / 2; // half the rows (a vector: half its length)
    t!.dims = dims;
    t!.data = (t!.data as Uint8Array).subarray(0, (t!.data as Uint8Array).length / 2);
  };
  const dropTensor = (name: string) => (_m: Map<string, GGUFWriteValue>, tensors: GGUFWriteTensor[]) => {
    const i = tensors.findIndex((t) => t.name === name);
    expect(i, name).toBeGreaterThanOrEqual(0);
    tensors.splice(i, 1);
  };
  const cases: { family: string; options: Omit<MakeOptions, 'size' | 'gguf'>; missing: string; shape: string; shapeError: RegExp }[] = [
    { family: 'llama', options: { arch: 'llama' }, missing: 'blk.1.ffn_up.weight', shape: 'blk.0.attn_output.weight', shapeError: /layer 0 attention output \(blk\.0\.attn_output\.weight\) is \[32, 64\], expected \[64, 64\]/ },
    { family: 'llama (Mixtral)', options: { arch: 'llama', experts: 4 }, missing: 'blk.1.ffn_gate_inp.weight', shape: 'blk.0.ffn_gate_inp.weight', shapeError: /blk\.0\.ffn_gate_inp\.weight routes to 2 experts, but llama\.expert_count is 4/ },
    { family: 'qwen2', options: { arch: 'qwen2' }, missing: 'blk.0.attn_k.bias', shape: 'blk.1.attn_v.bias', shapeError: /layer 1 attention v \(blk\.1\.attn_v\.bias\) has 16 elements, expected 32/ },
    { family: 'qwen3', options: { arch: 'qwen3' }, missing: 'blk.1.attn_k_norm.weight', shape: 'blk.1.attn_k_norm.weight', shapeError: /layer 1 attention k norm \(blk\.1\.attn_k_norm\.weight\) has 8 elements, expected 16/ },
    { family: 'qwen3moe', options: { arch: 'qwen3moe' }, missing: 'blk.1.ffn_gate_inp.weight', shape: 'blk.0.ffn_down_exps.weight', shapeError: /blk\.0\.ffn_down_exps\.weight has shape \[4, 64, 64\], expected \[8, out, in\] \(qwen3moe\.expert_count = 8\)/ },
    { family: 'smollm3', options: { arch: 'smollm3' }, missing: 'blk.3.attn_v.weight', shape: 'blk.3.attn_q.weight', shapeError: /layer 3 attention q \(blk\.3\.attn_q\.weight\) is \[32, 64\], expected \[64, 64\]/ },
    { family: 'mistral3', options: { arch: 'mistral3' }, missing: 'blk.1.attn_output.weight', shape: 'blk.0.ffn_up.weight', shapeError: /layer 0 mlp up \(blk\.0\.ffn_up\.weight\) is \[80, 64\], expected \[160, 64\]/ },
    { family: 'gemma2', options: { arch: 'gemma2' }, missing: 'blk.1.post_attention_norm.weight', shape: 'blk.1.ffn_gate.weight', shapeError: /layer 1 mlp gate \(blk\.1\.ffn_gate\.weight\) is \[80, 64\], expected \[160, 64\]/ },
    { family: 'gemma3', options: { arch: 'gemma3' }, missing: 'blk.4.attn_k_norm.weight', shape: 'blk.5.post_ffw_norm.weight', shapeError: /layer 5 post-MLP norm \(blk\.5\.post_ffw_norm\.weight\) has 32 elements, expected 64/ },
    { family: 'gemma4', options: { arch: 'gemma4' }, missing: 'blk.0.attn_k_norm.weight', shape: 'blk.2.attn_k.weight', shapeError: /blk\.2\.attn_k\.weight is \[16, 64\], expected \[32, 64\]/ },
    { family: 'phi3', options: { arch: 'phi3' }, missing: 'blk.0.ffn_up.weight', shape: 'blk.0.ffn_up.weight', shapeError: /blk\.0\.ffn_up\.weight is \[160, 64\], expected \[320, 64\] \(gate and up fused\)/ },
    { family: 'gpt2', options: { arch: 'gpt2' }, missing: 'position_embd.weight', shape: 'blk.0.attn_qkv.bias', shapeError: /blk\.0\.attn_qkv\.bias has 96 elements, expected 192/ },
  ];

  it('the rows cover every decoder family of the table (hybrids: qwen35-parity / qwen3next-parity tests)', () => {
    const decoders = ARCHITECTURES.map((a) => a.family).filter((f) => !['bert', 'nomic-bert', 't5', 't5encoder', 'qwen35', 'qwen35moe', 'qwen3next'].includes(f));
    expect(new Set(cases.map((c) => c.family.split(' ')[0]))).toEqual(new Set(decoders));
  });

  it.each(cases)('$family: $missing missing, $shape of the wrong shape', async ({ family, options, missing, shape, shapeError }) => {
    const base = join(dir, `family-${family.replace(/\W+/g, '-')}.gguf`);
    makeRandomModel({ ...options, size: 'tiny', seed: 3, gguf: base });
    const name = family.replace(/\W+/g, '-');
    const esc = missing.replace(/\./g, '\\.');
    // in this thread (worker: false): the trip back from the worker is checked above
    await expect(loadModel(variant(`${name}-missing`, dropTensor(missing), base), { backend, worker: false })).rejects.toThrow(new RegExp(`tensor '${esc}' is missing`));
    await expect(loadModel(variant(`${name}-shape`, half(shape), base), { backend, worker: false })).rejects.toThrow(shapeError);
  });

  it('gemma3: a sliding window larger than the context', async () => {
    const base = join(dir, 'family-gemma3.gguf');
    makeRandomModel({ arch: 'gemma3', size: 'tiny', seed: 3, gguf: base });
    const p = variant('gemma3-window', (meta) => meta.set('gemma3.attention.sliding_window', u32(100000)), base);
    await expect(loadModel(p, { backend })).rejects.toThrow(/gemma3\.attention\.sliding_window \(100000\) is larger than the context length \(256\)/);
  });

  it('an unknown architecture: UnsupportedArchitectureError listing every name of the table', async () => {
    const base = join(dir, 'family-llama.gguf');
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 3, gguf: base });
    const err = await loadModel(variant('arch-falcon9', (meta) => meta.set('general.architecture', 'falcon9'), base), { backend }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnsupportedArchitectureError);
    const message = (err as Error).message;
    expect(message).toMatch(/unsupported architecture 'falcon9'; supported: /);
    for (const a of ARCHITECTURES) for (const n of a.gguf) expect(message, n).toContain(n);
  });
});
