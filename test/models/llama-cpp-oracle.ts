/**
 * node-llama-cpp (llama.cpp) as an independent oracle: greedy token ids and raw logits for a
 * GGUF file, one token at a time through `controlledEvaluate`. Tests that need it skip when
 * node-llama-cpp is not installed (bench/peers, see test/formats/helpers.ts).
 */
import { pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import type { Transformer } from '../../ts/models/transformer.js';
import { peersModulePath } from '../formats/helpers.js';
import { logitRange, maxAbsDiff } from './helpers.js';

export interface OracleRun {
  /** Greedy tokens; stops early after an end-of-generation token (not included) unless ignoreEog. */
  tokens: number[];
  /** With `logits: true`: the logits that produced each token (row i predicts tokens[i]). */
  logits: Float32Array[];
}

interface LlamaModelLike {
  tokens: { bos: number | null; eos: number | null };
  isEogToken(token: number): boolean;
  tokenize(text: string, specialTokens?: boolean): number[];
  detokenize(tokens: readonly number[]): string;
  createContext(o: { contextSize: number; threads: number; batchSize: number; experimentalKvCacheKeyType?: string; experimentalKvCacheValueType?: string; flashAttention?: boolean }): Promise<{
    getSequence(): {
      controlledEvaluate(items: unknown[]): Promise<Array<{ next?: { token?: number; logits?: Map<number, number> } } | undefined>>;
    };
    dispose(): Promise<void>;
  }>;
  dispose(): Promise<void>;
  readonly fileInsights?: unknown;
}

interface LlamaLike {
  loadModel(o: { modelPath: string }): Promise<LlamaModelLike>;
  dispose(): Promise<void>;
}

export const oraclePath = peersModulePath();
export const oracleMissing = 'node-llama-cpp is not installed (npm ci --prefix bench/peers --omit=optional): skipped';

let llamaPromise: Promise<LlamaLike> | null = null;
const models = new Map<string, Promise<LlamaModelLike>>();

async function llama(): Promise<LlamaLike> {
  if (!oraclePath) throw new Error(oracleMissing);
  llamaPromise ??= (async () => {
    const mod = (await import(pathToFileURL(oraclePath).href)) as {
      getLlama(o: Record<string, unknown>): Promise<LlamaLike>;
      LlamaLogLevel: Record<string, unknown>;
    };
    return mod.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: mod.LlamaLogLevel.error });
  })();
  return llamaPromise;
}

export async function oracleModel(path: string): Promise<LlamaModelLike> {
  let m = models.get(path);
  if (!m) {
    m = llama().then((l) => l.loadModel({ modelPath: path }));
    models.set(path, m);
  }
  return m;
}

/** Greedy decoding after `prompt` (token ids, BOS included) for up to `steps` tokens. */
export async function oracleGreedy(
  path: string,
  prompt: readonly number[],
  steps: number,
  o: { logits?: boolean; vocab?: number; contextSize?: number; ignoreEog?: boolean; /** 'F32' keeps llama.cpp's KV cache in f32 (default f16). */ kvCacheType?: 'F32' | 'F16';
    /** false runs llama.cpp's plain attention (mul_mat, soft_max, mul_mat); its default 'auto' picks flash attention on CPU, which casts K/V to f16 and sums V in f16. */
    flashAttention?: boolean } = {},
): Promise<OracleRun> {
  const model = await oracleModel(path);
  const kv = o.kvCacheType ? { experimentalKvCacheKeyType: o.kvCacheType, experimentalKvCacheValueType: o.kvCacheType } : {};
  // llama.cpp's flash attention casts an f32 K/V to f16, so an f32 cache means plain attention unless asked
  const fa = o.flashAttention !== undefined ? { flashAttention: o.flashAttention } : o.kvCacheType === 'F32' ? { flashAttention: false } : {};
  const ctx = await model.createContext({ contextSize: o.contextSize ?? Math.max(64, prompt.length + steps + 1), threads: 1, batchSize: 512, ...kv, ...fa });
  try {
    const seq = ctx.getSequence();
    const tokens: number[] = [];
    const logits: Float32Array[] = [];
    let input: number[] = [...prompt];
    for (let i = 0; i < steps; i++) {
      const items: unknown[] = input.map((t, j) =>
        j === input.length - 1 ? [t, { generateNext: { token: true, ...(o.logits ? { logits: true } : {}), options: { temperature: 0 } } }] : t,
      );
      const res = await seq.controlledEvaluate(items);
      const next = res[input.length - 1]?.next;
      if (next?.token === undefined) throw new Error('node-llama-cpp returned no next token');
      if (o.logits) {
        if (!next.logits || !o.vocab) throw new Error('node-llama-cpp returned no logits (or vocab not given)');
        const row = new Float32Array(o.vocab);
        for (const [t, l] of next.logits) row[t] = l;
        logits.push(row);
      }
      if (model.isEogToken(next.token) && !o.ignoreEog) break;
      tokens.push(next.token);
      input = [next.token];
    }
    return { tokens, logits };
  } finally {
    await ctx.dispose();
  }
}

/**
 * Our model teacher-forced on llama.cpp's greedy ids: after each prompt, llama.cpp's `steps` greedy
 * tokens with their logits (KV cache in f32, plain attention, context 256, end-of-generation
 * ignored), and `m` fed the same tokens. Returns the worst |Δlogit| relative to the row's logit
 * range and how many distinct tokens llama.cpp chose; with `sameTop1` it asserts that our argmax is
 * llama.cpp's token at every step.
 */
export async function teacherForced(m: Transformer, oracleFile: string, prompts: readonly (readonly number[])[], steps: number, sameTop1: boolean): Promise<{ worst: number; distinct: number }> {
  let worst = 0;
  const distinct = new Set<number>();
  for (const prompt of prompts) {
    const theirs = await oracleGreedy(oracleFile, prompt, steps, { logits: true, vocab: m.config.vocabSize, contextSize: 256, ignoreEog: true, kvCacheType: 'F32' });
    expect(theirs.tokens).toHaveLength(steps);
    m.cache.length = 0;
    let l = m.forward(Int32Array.from(prompt), 0);
    for (let i = 0; i < steps; i++) {
      const t = theirs.logits[i]!;
      worst = Math.max(worst, maxAbsDiff(l, t) / logitRange(t));
      if (sameTop1) expect(m.backend.argmax(l), `prompt of ${prompt.length}, step ${i}`).toBe(theirs.tokens[i]);
      distinct.add(theirs.tokens[i]!);
      if (i + 1 < steps) l = m.forward(Int32Array.of(theirs.tokens[i]!), prompt.length + i);
    }
  }
  return { worst, distinct: distinct.size };
}
