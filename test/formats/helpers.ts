/** Shared paths and small utilities for the format tests. */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ../shared from the main checkout (/work/main); worktrees under /work/wt/<name> look one level up. */
export const shared = [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(repoRoot, '..', 'shared');
export const storiesDir = join(shared, 'models', 'stories260K');
export const vocabDir = join(shared, 'tokenizers', 'llama.cpp-vocab');
export const haveStories = existsSync(join(storiesDir, 'stories260K.bin'));
export const haveVocabs = existsSync(vocabDir);

/** Every shared .gguf file (models and tokenizer vocabularies). */
export function sharedGGUFs(): string[] {
  const out: string[] = [];
  for (const dir of [storiesDir, vocabDir]) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) if (f.endsWith('.gguf')) out.push(join(dir, f));
  }
  return out;
}

/** node-llama-cpp, installed for benches in bench/peers of the main checkout (or ours). */
export function peersModulePath(): string | null {
  for (const root of [join(repoRoot, 'bench', 'peers'), join(repoRoot, '..', 'main', 'bench', 'peers'), join(repoRoot, '..', '..', 'main', 'bench', 'peers')]) {
    const p = join(root, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
    if (existsSync(p)) return p;
  }
  return null;
}

/** A deterministic PRNG (mulberry32) for fuzzing. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
