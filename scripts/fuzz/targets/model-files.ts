/**
 * Model files: a mutated file is written to a temporary path and loaded the way `loadModel` loads
 * it (header, config checks, tensors, tokenizer, the Transformer), then one forward pass and one
 * sampled token run, so that a value that passes the reader but breaks the model is found too.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRandomModel } from '../../make-random-model.js';
import { loadLocal } from '../../../ts/generate/load-local.js';
import { readGGUF } from '../../../ts/formats/gguf.js';
import { mutateBytes, mutateJson, type FuzzRng } from '../mutate.js';
import type { FuzzTarget } from '../target.js';

interface Files {
  dir: string;
  gguf: Uint8Array;
  ggufHeader: number;
  hfConfig: string;
  safetensors: Uint8Array;
  safetensorsHeader: number;
  hfTokenizer: Uint8Array;
  llama2c: Uint8Array;
  llama2cTok: Uint8Array;
}

let files: Files | null = null;

function seeds(): Files {
  if (files) return files;
  const dir = mkdtempSync(join(tmpdir(), 'tl-fuzz-'));
  const gguf = join(dir, 'seed.gguf');
  const hf = join(dir, 'seed-hf');
  makeRandomModel({ arch: 'llama', size: 'tiny', seed: 11, gguf, hf });
  const g = readFileSync(gguf);
  const st = readFileSync(join(hf, 'model.safetensors'));
  const [model, tok] = tinyLlama2c();
  files = {
    dir,
    gguf: g,
    ggufHeader: readGGUF(g).dataOffset,
    hfConfig: readFileSync(join(hf, 'config.json'), 'utf8'),
    safetensors: st,
    safetensorsHeader: 8 + Number(st.readBigUInt64LE(0)),
    hfTokenizer: readFileSync(join(hf, 'tokenizer.json')),
    llama2c: model,
    llama2cTok: tok,
  };
  return files;
}

/** A small valid llama2.c checkpoint (dim 16, 2 layers, vocab 300) and a tokenizer.bin for it (<unk>, BOS, EOS, 256 bytes, 41 letters). */
function tinyLlama2c(): [Uint8Array, Uint8Array] {
  const [dim, hidden, layers, heads, kv, vocab, seq] = [16, 32, 2, 4, 2, 300, 16];
  const hs = dim / heads;
  const floats = vocab * dim + layers * (2 * dim + 2 * dim * dim + 2 * kv * hs * dim + 3 * hidden * dim) + dim + seq * hs;
  const buf = Buffer.alloc(28 + floats * 4);
  new Int32Array(buf.buffer, buf.byteOffset, 7).set([dim, hidden, layers, heads, kv, vocab, seq]);
  const w = new Float32Array(buf.buffer, buf.byteOffset + 28, floats);
  for (let i = 0; i < floats; i++) w[i] = Math.sin(i * 0.618) * 0.2 + (i % 7 === 0 ? 1 : 0);
  const parts: Buffer[] = [Buffer.from(new Int32Array([8]).buffer)];
  for (let t = 0; t < vocab; t++) {
    const letter = (i: number): string => String.fromCharCode(0x61 + (i % 26)) + (i >= 26 ? 'x' : '');
    const piece = t === 0 ? '<unk>' : t === 1 ? '\n<s>\n' : t === 2 ? '\n</s>\n' : t < 259 ? `<0x${(t - 3).toString(16).toUpperCase().padStart(2, '0')}>` : letter(t - 259);
    const p = Buffer.from(piece);
    const head = Buffer.alloc(8);
    head.writeFloatLE(-t, 0);
    head.writeInt32LE(p.length, 4);
    parts.push(head, p);
  }
  return [buf, Buffer.concat(parts)];
}

/** Loads and runs one token; the work dir is reused by every input of this child. */
async function loadAndStep(path: string): Promise<void> {
  const m = await loadLocal(path, { backend: process.env.TENSORLOOM_FUZZ_BACKEND === 'js' ? 'js' : undefined, threads: 1 });
  try {
    m.engine.generate('ab', { maxTokens: 2, temperature: 0.8, seed: 1 });
  } finally {
    m.close();
  }
}

function workDir(name: string): string {
  const d = join(seeds().dir, `work-${name}-${process.pid}`);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

export const gguf: FuzzTarget<Files> = {
  name: 'gguf',
  about: 'GGUF model files (header, metadata, tensor infos, embedded vocabulary) → load + one token',
  unavailable: () => null,
  setup: seeds,
  async run(f, rng: FuzzRng) {
    const p = join(workDir('gguf'), 'm.gguf');
    writeFileSync(p, mutateBytes(f.gguf, rng, f.ggufHeader));
    await loadAndStep(p);
  },
  teardown: (f) => rmSync(f.dir, { recursive: true, force: true }),
};

export const safetensors: FuzzTarget<Files> = {
  name: 'safetensors',
  about: 'Hugging Face directories: model.safetensors header, config.json, tokenizer.json → load + one token',
  unavailable: () => null,
  setup: seeds,
  async run(f, rng: FuzzRng) {
    const d = workDir('st');
    const which = rng.int(3);
    writeFileSync(join(d, 'config.json'), which === 0 ? mutateJson(f.hfConfig, rng) : f.hfConfig);
    writeFileSync(join(d, 'model.safetensors'), which === 1 ? mutateBytes(f.safetensors, rng, f.safetensorsHeader) : f.safetensors);
    writeFileSync(join(d, 'tokenizer.json'), which === 2 ? mutateJson(Buffer.from(f.hfTokenizer).toString('utf8'), rng) : f.hfTokenizer);
    await loadAndStep(d);
  },
  teardown: (f) => rmSync(f.dir, { recursive: true, force: true }),
};

export const llama2c: FuzzTarget<Files> = {
  name: 'llama2c',
  about: 'llama2.c checkpoints (28-byte header, weights) and their tokenizer.bin → load + one token',
  unavailable: () => null,
  setup: seeds,
  async run(f, rng: FuzzRng) {
    const d = workDir('l2c');
    const mutateModel = rng.chance(0.7);
    writeFileSync(join(d, 'model.bin'), mutateModel ? mutateBytes(f.llama2c, rng, 28) : f.llama2c);
    writeFileSync(join(d, 'tokenizer.bin'), mutateModel ? f.llama2cTok : mutateBytes(f.llama2cTok, rng));
    await loadAndStep(join(d, 'model.bin'));
  },
  teardown: (f) => rmSync(f.dir, { recursive: true, force: true }),
};
