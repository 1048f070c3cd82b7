/**
 * npx tsx bench/run.ts formats [--110m]
 *
 * Model file loading: GGUF header parsing (next to node-llama-cpp's readGgufFileInfo when it is
 * installed in bench/peers), and opening a model + viewing every tensor as the models do, with
 * mmap and with plain reads, reporting bytes resident and bytes copied. --110m also generates the
 * 110M-parameter random Llama (f32 GGUF, ≈ 530 MB, in a temp dir) and times that.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readGGUF } from '../ts/formats/gguf.js';
import { openModelFile } from '../ts/formats/model-file.js';
import { makeRandomModel } from '../scripts/make-random-model.js';
import { median, printTable, timeIt, writeResults, type Row } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const shared = [join(here, '..', '..', 'shared'), join(here, '..', '..', '..', 'shared')].find(existsSync) ?? '';

async function peerHeaderMs(path: string): Promise<number | null> {
  const p = join(here, 'peers', 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
  const alt = join(here, '..', '..', '..', 'main', 'bench', 'peers', 'node_modules', 'node-llama-cpp', 'dist', 'index.js'); // worktrees under /work/wt
  const mod = existsSync(p) ? p : existsSync(alt) ? alt : null;
  if (!mod) return null;
  const { readGgufFileInfo } = (await import(pathToFileURL(mod).href)) as { readGgufFileInfo(p: string, o: object): Promise<unknown> };
  const samples: number[] = [];
  for (let i = 0; i < 9; i++) {
    const t0 = performance.now();
    await readGgufFileInfo(path, { logWarnings: false });
    samples.push(performance.now() - t0);
  }
  return median(samples.slice(2));
}

function loadRow(label: string, path: string, io: 'mmap' | 'read'): Row {
  let resident = 0;
  let copied = 0;
  let bytes = 0;
  const t = timeIt(() => {
    const m = openModelFile(path, { io });
    for (const [name, e] of m.tensors) {
      if (e.shape.length >= 2) m.weights(name);
      else m.vector(name);
    }
    resident = m.residentBytes();
    copied = m.copiedBytes();
    bytes = m.tensorBytes();
    m.close();
  }, { samples: 5, minSampleMs: 1, warmup: 1 });
  return { model: label, io, 'open + view all (ms)': t.ms, 'weights MB': bytes / 1e6, 'resident MB': resident / 1e6, 'copied MB': copied / 1e6 };
}

export async function run(flags: string[]): Promise<void> {
  const headerRows: Row[] = [];
  const files = shared ? [join(shared, 'models', 'stories260K', 'stories260K-f32.gguf'), join(shared, 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-llama-spm.gguf'), join(shared, 'tokenizers', 'llama.cpp-vocab', 'ggml-vocab-gpt-2.gguf')] : [];
  for (const f of files.filter(existsSync)) {
    const ours = timeIt(() => readGGUF(f), { samples: 7, minSampleMs: 20 }).ms;
    const peer = await peerHeaderMs(f);
    headerRows.push({ file: f.split('/').pop()!, 'tensorloom (ms)': ours, 'node-llama-cpp (ms)': peer, ratio: peer === null ? null : peer / ours });
  }
  printTable('GGUF header parse (metadata incl. vocab + tensor infos), median', headerRows);

  const tmp = mkdtempSync(join(tmpdir(), 'tl-bench-formats-'));
  const loadRows: Row[] = [];
  try {
    const tiny = join(tmp, 'tiny.gguf');
    makeRandomModel({ arch: 'llama', size: 'tiny', seed: 1, gguf: tiny });
    const models: [string, string][] = [['random llama tiny f32', tiny]];
    if (shared) models.push(['stories260K.bin', join(shared, 'models', 'stories260K', 'stories260K.bin')]);
    if (flags.includes('--110m')) {
      const big = join(tmp, '110m.gguf');
      const t0 = performance.now();
      makeRandomModel({ arch: 'llama', size: '110m', seed: 1, gguf: big });
      console.log(`generated the 110M random Llama in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      models.push(['random llama 110m f32', big]);
    }
    for (const [label, path] of models) for (const io of ['mmap', 'read'] as const) loadRows.push(loadRow(label, path, io));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  printTable('Open a model and view every tensor (median of 5; resident = pages in RAM after the pass)', loadRows);
  writeResults('formats', { header: headerRows, load: loadRows });
}
