/** Shared paths and small utilities for the format tests. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteTensor, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';

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

/** An edit of a GGUF file's metadata (keyed by name, typed as the file had them) and tensors, in place. */
export type GGUFEdit = (meta: Map<string, GGUFWriteValue>, tensors: GGUFWriteTensor[]) => void;

/** Writes `out`: the GGUF file `src` with its metadata and tensors as `edit` leaves them; returns `out`. */
export function rewriteGGUF(src: string, out: string, edit: GGUFEdit): string {
  const g = readGGUF(src);
  const bytes = readFileSync(src);
  const meta = new Map<string, GGUFWriteValue>();
  for (const [k, v] of g.metadata) {
    const t = g.metadataTypes.get(k)!;
    meta.set(k, { type: t.type, value: v, ...(t.itemType !== undefined ? { itemType: t.itemType } : {}) });
  }
  const tensors: GGUFWriteTensor[] = g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) }));
  edit(meta, tensors);
  writeGGUF(out, { metadata: meta, tensors });
  return out;
}
