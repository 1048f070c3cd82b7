/**
 * Independent references for the conversion tests: llama.cpp (through node-llama-cpp, installed for
 * benches in bench/peers) and a plain PyTorch implementation of the Hugging Face models
 * (torch_reference.py). Both are optional; tests skip with a message when they are absent.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { peersModulePath } from './helpers.js';

interface Llama {
  loadModel(o: { modelPath: string }): Promise<LlamaModel>;
}
interface LlamaModel {
  tokens: { bos: number | null };
  createContext(o: { contextSize: number; threads: number; batchSize: number }): Promise<{ getSequence(): { evaluate(t: number[], o: { temperature: number }): AsyncIterable<number> }; dispose(): Promise<void> }>;
  dispose(): Promise<void>;
}

export const peersPath = peersModulePath();
let llama: Promise<Llama> | null = null;

function getLlama(): Promise<Llama> {
  llama ??= import(pathToFileURL(peersPath!).href).then((m: { getLlama(o: object): Promise<Llama> }) =>
    m.getLlama({ gpu: false, build: 'never', skipDownload: true, logLevel: 'error' }),
  );
  return llama;
}

/** llama.cpp's greedy continuation of [start ?? BOS] for `steps` tokens (fewer if it hits EOS). */
export async function llamaCppGreedy(modelPath: string, steps: number, start?: number): Promise<number[]> {
  const l = await getLlama();
  const model = await l.loadModel({ modelPath });
  try {
    const ctx = await model.createContext({ contextSize: Math.max(64, steps + 8), threads: 1, batchSize: 64 });
    try {
      const out: number[] = [];
      for await (const t of ctx.getSequence().evaluate([start ?? model.tokens.bos ?? 0], { temperature: 0 })) {
        out.push(t);
        if (out.length >= steps) break;
      }
      return out;
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

const python = '/usr/bin/python3';
export const haveTorch = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' }).status === 0;

/** Greedy ids from the PyTorch reference run on a Hugging Face directory. */
export function torchGreedy(hfDir: string, start: number, steps: number): number[] {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch_reference.py');
  const r = spawnSync(python, [script, hfDir, String(start), String(steps)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch_reference.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as number[];
}
