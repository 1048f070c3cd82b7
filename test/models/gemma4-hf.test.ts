/**
 * gemma4 beyond the E2B-style GGUF of gemma4.test.ts, on GEMMA4_TINY's random weights (seed 4):
 * - a Hugging Face folder (config.json with text_config, model.language_model.* names, as the
 *   Gemma 4 checkpoints publish them) written from the same weights as the GGUF: the same config
 *   and logits within 1e-4 of the GGUF's (measured 0); our converter turns the folder into a GGUF
 *   that llama.cpp (node-llama-cpp) runs like us (teacher-forced logits within 1e-3 of the range,
 *   the same top-1, the same greedy ids through generate);
 * - the variants llama.cpp runs: no per-layer inputs (the 26B/31B shape), values = the keys'
 *   projection on the global layers (no attn_v; HF attention_k_eq_v), q/k/v fused in attn_qkv, the
 *   26B-A4B's routed experts beside the dense MLP (fused or separate expert gate/up): each against
 *   llama.cpp, teacher-forced (24 steps) and free-running (24 ids); the folder variants also equal
 *   their GGUF and convert to its tensors and keys;
 * - llama.cpp's CPU GELU reads an f16 table (input and output rounded to f16): it moves these
 *   models' logits by 1–3.5e-3 of the range from our exact GELU and can flip near-tied tokens, so
 *   the 1e-3 bound and the same-token checks run with that rounding emulated (withGgmlGelu; measured
 *   1–6e-4), and the exact-GELU difference is bounded by 5e-3;
 * - the experts: JS = native, chunked = token by token, the batching server = generate;
 * - bad input names the key or tensor.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GEMMA4_TINY, makeRandomModel, type Gemma4Variant } from '../../scripts/make-random-model.js';
import { getBackend } from '../../ts/backend/index.js';
import type { Backend } from '../../ts/backend/types.js';
import { f16ToF32, f32ToF16 } from '../../ts/formats/dtype-convert.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { u32 } from '../../ts/formats/gguf-writer.js';
import { openModelFile } from '../../ts/formats/model-file.js';
import { loadModel } from '../../ts/generate/model.js';
import { convertModel } from '../../ts/models/convert.js';
import { buildTransformer } from '../../ts/models/registry.js';
import { allLogits, expectBatchingEqualsGenerate, jsNativeDiff, loadError, maxAbsDiff, nativeAvailable, rewriteGGUF, tokenByTokenDiff, type GGUFEdit } from './helpers.js';
import { oracleGreedy, oracleMissing, oraclePath, teacherForced } from './llama-cpp-oracle.js';

const SEED = 4; // gemma4.test.ts's weights
const STEPS = 24;
const PROMPTS: number[][] = [
  [1, 17, 42, 99, 7],
  Array.from({ length: 30 }, (_, i) => (i * 41 + 3) % 511), // several windows long
];
const backendName = nativeAvailable() ? 'native' : 'js';
const inProcess = { backend: backendName, worker: false } as const;

const dir = mkdtempSync(join(tmpdir(), 'tl-gemma4hf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function make(name: string, v: Gemma4Variant, hf: boolean): { gguf: string; hf: string } {
  const out = { gguf: join(dir, `${name}.gguf`), hf: join(dir, `${name}-hf`) };
  makeRandomModel({ arch: 'gemma4', size: 'tiny', type: 'f32', seed: SEED, gguf: out.gguf, ...(hf ? { hf: out.hf } : {}), gemma4: v });
  return out;
}

/** Every position's logits of each prompt, in one forward pass per prompt. */
function logitsOf(path: string): Float32Array[] {
  const f = openModelFile(path);
  try {
    const m = buildTransformer(f, getBackend(backendName));
    return PROMPTS.map((p) => {
      m.cache.length = 0;
      return allLogits(m, Int32Array.from(p));
    });
  } finally {
    f.close();
  }
}

/**
 * The backend with llama.cpp's CPU GELU: ggml looks gelu up in a table indexed by x rounded to f16
 * and holding f16 results (GGML_GELU_FP16; 0 below -10, x above 10). Its rounding, not ours, moves
 * the random models' logits by ~1e-3 of their range and can flip near-tied top-1 tokens.
 */
function withGgmlGelu(b: Backend): Backend {
  const f16 = (v: number) => f16ToF32(f32ToF16(v));
  const gelu: Backend['gelu'] = (out, x, approximation) => {
    const src = Float32Array.from(x);
    const rounded = src.map(f16);
    b.gelu(out, rounded, approximation);
    for (let i = 0; i < out.length; i++) out[i] = src[i]! <= -10 ? 0 : src[i]! >= 10 ? src[i]! : f16(out[i]!);
  };
  return new Proxy(b, {
    get(target, key) {
      if (key === 'gelu') return gelu;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** Teacher-forced on llama.cpp's greedy tokens: the worst |Δlogit| / range, with and without ggml's GELU; asserts the same top-1 (with it). */
async function againstLlamaCpp(ours: string, theirs: string): Promise<{ ggmlGelu: number; ownGelu: number }> {
  const worst = async (backend: Backend, sameTop1: boolean): Promise<number> => {
    const f = openModelFile(ours);
    try {
      const m = buildTransformer(f, backend);
      const { worst } = await teacherForced(m, theirs, PROMPTS, STEPS, sameTop1);
      m.dispose();
      return worst;
    } finally {
      f.close();
    }
  };
  return { ownGelu: await worst(getBackend(backendName), false), ggmlGelu: await worst(withGgmlGelu(getBackend(backendName)), true) };
}

/** Free-running greedy decoding with ggml's GELU (no near-tie flips): the Transformer's ids equal llama.cpp's. */
async function sameGreedyTokens(ours: string, theirs: string): Promise<void> {
  const prompt = PROMPTS[0]!;
  const ref = await oracleGreedy(theirs, prompt, STEPS, { contextSize: 256, ignoreEog: true, kvCacheType: 'F32' });
  const f = openModelFile(ours);
  try {
    const m = buildTransformer(f, withGgmlGelu(getBackend(backendName)));
    const got: number[] = [];
    let l = m.forward(Int32Array.from(prompt), 0);
    for (let i = 0; i < STEPS; i++) {
      got.push(m.backend.argmax(l));
      l = m.forward(Int32Array.of(got[i]!), prompt.length + i);
    }
    expect(got).toEqual(ref.tokens);
  } finally {
    f.close();
  }
}

/** Free-running greedy decoding through generate (our own GELU, f16 KV cache on both sides): our ids equal llama.cpp's. */
async function sameGreedy(ours: string, theirs: string): Promise<void> {
  const model = await loadModel(ours, { worker: false, backend: backendName, kvCache: 'f16' });
  try {
    const prompt = PROMPTS[0]!;
    const ref = await oracleGreedy(theirs, prompt, STEPS, { contextSize: 256, ignoreEog: true });
    const got = await model.generate(prompt, { temperature: 0, maxTokens: STEPS, ignoreEos: true });
    expect(got.tokens).toEqual(ref.tokens);
  } finally {
    await model.dispose();
  }
}

const base = make('base', {}, true);

describe('gemma4 from a Hugging Face folder', () => {
  it('reads the same config as the GGUF of the same weights', () => {
    const g = openModelFile(base.gguf);
    const h = openModelFile(base.hf);
    try {
      expect(h.format).toBe('safetensors');
      const cg = buildTransformer(g, getBackend('js'), { contextLength: 64 }).config;
      const ch = buildTransformer(h, getBackend('js'), { contextLength: 64 }).config;
      expect(ch.family).toBe('gemma4');
      for (const k of ['dim', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'layerHiddenDims', 'kvLayout', 'slidingWindow', 'swaRopeTheta', 'swaRopeDims', 'perLayerInput', 'finalSoftcap', 'vocabSize'] as const) {
        if (k === 'slidingWindow') expect({ ...ch.slidingWindow, key: '' }).toEqual({ ...cg.slidingWindow, key: '' });
        else expect(ch[k], k).toEqual(cg[k]);
      }
      expect(ch.rope!.theta).toBe(cg.rope!.theta);
      expect(ch.normEps).toBeCloseTo(cg.normEps, 12); // the GGUF holds it as float32
      // proportional RoPE: the global layers' factors from rope_parameters equal the GGUF's rope_freqs
      expect(Array.from(ch.ropeScaling!.freqFactors!)).toEqual(Array.from(cg.ropeScaling!.freqFactors!));
      expect(ch.kvLayout!.sharedFrom).toEqual([null, null, null, 1, 1, 2]);
      expect(ch.layerHiddenDims).toEqual([96, 96, 96, 192, 192, 192]);
    } finally {
      g.close();
      h.close();
    }
  });

  it('gives the GGUF\'s logits within 1e-4 (every position of two prompts)', () => {
    const a = logitsOf(base.gguf);
    const b = logitsOf(base.hf);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, maxAbsDiff(a[i]!, b[i]!));
    console.log(`gemma4 HF folder vs GGUF: max |Δlogit| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-4);
  });

  it('converts to a GGUF with llama.cpp\'s keys and tensors (rope_freqs from rope_parameters)', () => {
    const out = join(dir, 'converted.gguf');
    const h = openModelFile(base.hf);
    try {
      convertModel(h, out, { type: 'f32', name: 'converted-gemma4' });
    } finally {
      h.close();
    }
    const conv = readGGUF(out);
    const orig = readGGUF(base.gguf);
    expect(conv.metadata.get('general.architecture')).toBe('gemma4');
    expect(new Set(conv.tensors.map((t) => t.name))).toEqual(new Set(orig.tensors.map((t) => t.name)));
    for (const k of ['embedding_length_per_layer_input', 'attention.shared_kv_layers', 'attention.key_length', 'attention.key_length_swa', 'rope.freq_base', 'rope.freq_base_swa', 'attention.sliding_window']) {
      expect(Number(conv.metadata.get(`gemma4.${k}`)), k).toBe(Number(orig.metadata.get(`gemma4.${k}`)));
    }
    expect(Array.from(conv.metadata.get('gemma4.attention.sliding_window_pattern') as boolean[])).toEqual(GEMMA4_TINY.swa);
  });

  describe.skipIf(!oraclePath)(`the converted folder on llama.cpp ${oraclePath ? '' : oracleMissing}`, () => {
    it(`llama.cpp runs it as we run the folder: ${STEPS} teacher-forced steps within 1e-3 of the range, ${STEPS} greedy ids`, async () => {
      const out = join(dir, 'converted.gguf');
      const worst = await againstLlamaCpp(base.hf, out);
      console.log(`gemma4 HF folder vs llama.cpp on the converted GGUF: ${worst.ggmlGelu.toExponential(2)} of the logit range (${worst.ownGelu.toExponential(2)} with our GELU)`);
      expect(worst.ggmlGelu).toBeLessThan(1e-3);
      expect(worst.ownGelu).toBeLessThan(5e-3);
      await sameGreedy(base.hf, out);
    });
  });
});

describe.skipIf(!oraclePath)(`gemma4 variants llama.cpp runs ${oraclePath ? '' : oracleMissing}`, () => {
  const variants: [string, Gemma4Variant, boolean][] = [
    ['no per-layer inputs (26B/31B shape)', { noPerLayerInputs: true }, true],
    ['v = k on the global layers (no attn_v)', { kEqV: true }, true],
    ['fused attn_qkv', { fusedQkv: true }, false],
    ['26B-A4B shape: routed experts beside the dense MLP, no per-layer inputs, v = k', { experts: 4, noPerLayerInputs: true, kEqV: true }, true],
    ['experts with separate ffn_gate_exps / ffn_up_exps', { experts: 3, splitExperts: true }, false],
  ];
  for (const [what, v, hf] of variants) {
    it(`${what}: logits within 1e-3 of the range, ${STEPS} greedy ids${hf ? '; the HF folder gives the GGUF\'s logits' : ''}`, async () => {
      const m = make(what.replace(/\W+/g, '-'), v, hf);
      const worst = await againstLlamaCpp(m.gguf, m.gguf);
      console.log(`gemma4 ${what}: ${worst.ggmlGelu.toExponential(2)} of the logit range vs llama.cpp (${worst.ownGelu.toExponential(2)} with our GELU)`);
      expect(worst.ggmlGelu).toBeLessThan(1e-3);
      expect(worst.ownGelu).toBeLessThan(5e-3);
      await sameGreedyTokens(m.gguf, m.gguf);
      if (hf) {
        const a = logitsOf(m.gguf);
        const b = logitsOf(m.hf);
        for (let i = 0; i < a.length; i++) expect(maxAbsDiff(a[i]!, b[i]!)).toBeLessThan(1e-4);
        // our converter writes the folder under the GGUF's tensor names and shapes
        const out = join(dir, `${what.replace(/\W+/g, '-')}-converted.gguf`);
        const h = openModelFile(m.hf);
        try {
          convertModel(h, out, { type: 'f32' });
        } finally {
          h.close();
        }
        const shapes = (p: string) => new Map(readGGUF(p).tensors.map((t) => [t.name, t.dims.join('x')]));
        expect(shapes(out)).toEqual(shapes(m.gguf));
        // …and with llama.cpp's gemma4.* keys (as make-random-model writes them after Gemma4Model.set_gguf_parameters)
        const keys = (p: string) => {
          const meta = readGGUF(p).metadata;
          const norm = (v: unknown) => (typeof v === 'number' ? Math.fround(v) : ArrayBuffer.isView(v) || Array.isArray(v) ? Array.from(v as ArrayLike<unknown>, (x) => (typeof x === 'number' ? x : Boolean(x))) : v);
          return new Map([...meta].filter(([k]) => k.startsWith('gemma4.')).map(([k, v]) => [k, norm(v)]));
        };
        expect(keys(out)).toEqual(keys(m.gguf));
      }
    });
  }
});

describe('gemma4 26B-A4B shape: the experts as the file declares them', () => {
  const moe = make('moe-checks', { experts: 4, noPerLayerInputs: true }, false);
  it.skipIf(!nativeAvailable())('JS and native backends agree (max |Δ| < 1e-4); a prompt in one chunk equals token-by-token', () => {
    const f = openModelFile(moe.gguf);
    try {
      const ids = Int32Array.from(PROMPTS[1]!);
      const mn = buildTransformer(f, getBackend('native'));
      expect(mn.config.sideExperts).toEqual({ experts: 4, used: 2, hiddenDim: 32 });
      expect(jsNativeDiff(f, ids)).toBeLessThan(1e-4);
      expect(tokenByTokenDiff(mn, ids, allLogits(mn, ids))).toBeLessThan(1e-4);
    } finally {
      f.close();
    }
  });

  it('the batching server, 8 requests batched, gives what generate gives', async () => {
    await expectBatchingEqualsGenerate(moe.gguf, { requests: 8, maxTokens: 16, alone: false });
  });

  /** The MoE GGUF rewritten with edited metadata and tensors. */
  const variant = (name: string, edit: GGUFEdit): string => rewriteGGUF(moe.gguf, join(dir, `moe-${name}.gguf`), edit);
  it('an expert count that does not match the tensors names the router', async () => {
    expect(await loadError(variant('count', (meta) => meta.set('gemma4.expert_count', u32(6))), inProcess)).toMatch(/blk\.0\.ffn_gate_inp\.weight is \[4, 64\], expected \[6, 64\]/);
  });
  it('experts used beyond the expert count names the key', async () => {
    expect(await loadError(variant('used', (meta) => meta.set('gemma4.expert_used_count', u32(5))), inProcess)).toMatch(/gemma4\.expert_used_count \(5\)/);
  });
  it('a missing router scale names the tensor', async () => {
    expect(await loadError(variant('no-scale', (_, t) => t.splice(t.findIndex((x) => x.name === 'blk.3.ffn_gate_inp.scale'), 1)), inProcess)).toMatch(/blk\.3\.ffn_gate_inp\.scale/);
  });
  it('routed experts without expert_count name the key', async () => {
    expect(await loadError(variant('no-count', (meta) => meta.delete('gemma4.expert_count')), inProcess)).toMatch(/blk\.0\.ffn_gate_inp\.weight routes to experts.*expert_count/);
  });
});

describe('gemma4 from a Hugging Face folder: bad input names the key or tensor', () => {
  /** A copy of the base folder with config.json's text_config edited. */
  function edited(name: string, edit: (t: Record<string, unknown>) => void): string {
    const d = join(dir, `bad-${name}`);
    makeRandomModel({ arch: 'gemma4', size: 'tiny', type: 'f32', seed: SEED, hf: d });
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { text_config: Record<string, unknown> };
    edit(cfg.text_config);
    writeFileSync(join(d, 'config.json'), JSON.stringify(cfg));
    return d;
  }
  it('no global_head_dim', async () => {
    expect(await loadError(edited('no-global-head', (t) => delete t.global_head_dim), inProcess)).toMatch(/text_config.*global_head_dim is missing/);
  });
  it('layer_types of the wrong length', async () => {
    expect(await loadError(edited('short-types', (t) => (t.layer_types = (t.layer_types as string[]).slice(1))), inProcess)).toMatch(/layer_types must list 6/);
  });
  it('num_kv_shared_layers that leave no sliding and global layer to share from', async () => {
    expect(await loadError(edited('bad-shared', (t) => (t.num_kv_shared_layers = 2)), inProcess)).toMatch(/num_kv_shared_layers = 2/);
  });
  it('an unknown RoPE type on the global layers', async () => {
    expect(await loadError(edited('bad-rope', (t) => ((t.rope_parameters as { full_attention: { rope_type: string } }).full_attention.rope_type = 'yarn')), inProcess)).toMatch(/rope_parameters\.full_attention\.rope_type 'yarn'/);
  });
});
