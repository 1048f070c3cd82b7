/**
 * npx tsx bench/run.ts e2e-t5 [--quick] [--threads=1,2] [--models=t5-small,flan-t5-base] [--reps=N]
 *
 * End to end for encoder-decoders: encoder tokens/s (a 128-token source, median of 5 warm encodes on
 * either side: the encoder stack and the
 * cross-attention K/V of every decoder layer) and decoder tokens/s (64 greedy steps after the
 * first, EOS ignored), tensorloom (native backend, in this process) next to llama.cpp's own
 * encoder-decoder path on the same GGUF at the same thread count (bench/peers/llama-seq2seq.sh:
 * llama_encode, then greedy decoding from the decoder start token; one JSON line of timings).
 * LLAMA_LIB=prebuilt (node-llama-cpp's libllama, the default) or LLAMA_LIB=native (llama.cpp built
 * for this CPU by bench/peers/build-llama.sh, in $TL_LLAMA_NATIVE) chooses the library; the table title names the one that ran.
 * Models: random t5-small-shaped (60M, ReLU, tied head) and flan-t5-base-shaped (250M, gated-GELU,
 * untied head) f16 GGUFs written to the temp dir by scripts/make-random-t5.ts when missing;
 * `--quick` runs the tiny ones (checks the bench itself). Medians of `reps` runs, each on a
 * different random source.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { makeRandomT5, type T5Arch, type T5Size } from '../scripts/make-random-t5.js';
import { getBackend } from '../ts/backend/index.js';
import { openModelFile } from '../ts/formats/model-file.js';
import { buildEncoderDecoder } from '../ts/models/registry.js';
import { median, printTable, writeResults, type Row } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..');
const peerTool = join(repoRoot, 'bench', 'peers', 'llama-seq2seq.sh');
const SOURCE = 128;
const GENERATE = 64;
/** Timed encodes per rep (after one untimed): the encode figure is their median. */
const ENCODES = 5;

const MODELS: Record<string, { arch: T5Arch; size: T5Size }> = {
  't5-small': { arch: 't5', size: 'small' },
  'flan-t5-base': { arch: 'flan-t5', size: 'base' },
  't5-tiny': { arch: 't5', size: 'tiny' },
  'flan-t5-tiny': { arch: 'flan-t5', size: 'tiny' },
};

/** Random source ids in [3, vocab) ending with </s> (1). */
function source(vocab: number, seed: number): number[] {
  let x = (seed * 2654435761) >>> 0 || 1;
  const ids = Array.from({ length: SOURCE - 1 }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return 3 + (x % (vocab - 3));
  });
  return [...ids, 1];
}

function modelPath(name: string): string {
  const m = MODELS[name];
  if (!m) throw new Error(`unknown --models entry '${name}' (${Object.keys(MODELS).join(', ')})`);
  const dir = join(tmpdir(), 'tensorloom-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `random-${m.arch}-${m.size}-f16.gguf`);
  if (!existsSync(path)) {
    console.log(`writing ${path} …`);
    makeRandomT5({ arch: m.arch, size: m.size, type: 'f16', seed: 1, gguf: path });
  }
  return path;
}

interface Timing {
  encodeTps: number;
  decodeTps: number;
}

function ours(path: string, threads: number, reps: number): Timing {
  const backend = getBackend('native');
  backend.setThreads(threads);
  using mf = openModelFile(path);
  const m = buildEncoderDecoder(mf, backend);
  const enc: number[] = [];
  const dec: number[] = [];
  for (let r = 0; r < reps; r++) {
    const ids = Int32Array.from(source(m.config.vocabSize, r + 1));
    // the encode is short (tens of ms): the median of ENCODES of them, so one GC pause or
    // scheduler hiccup does not make the figure (the peer does the same)
    const encodeMs: number[] = [];
    let state = m.start(m.encode(ids));
    for (let e = 0; e < ENCODES; e++) {
      const t0 = performance.now();
      state = m.start(m.encode(ids));
      encodeMs.push(performance.now() - t0);
    }
    let logits = m.decode(state, Int32Array.of(m.spec.decoderStartTokenId));
    const t2 = performance.now();
    for (let i = 1; i < GENERATE; i++) logits = m.decode(state, Int32Array.of(backend.argmax(logits)));
    const t3 = performance.now();
    enc.push((SOURCE * 1000) / median(encodeMs));
    dec.push(((GENERATE - 1) * 1000) / (t3 - t2));
  }
  return { encodeTps: median(enc), decodeTps: median(dec) };
}

interface PeerLine {
  encodeMs: number;
  encodeTokens: number;
  decodeMs: number;
  decodeTokens: number;
}

/** llama.cpp at `threads` threads through bench/peers/llama-seq2seq.sh; a string says why not. */
async function peer(path: string, vocab: number, threads: number, reps: number): Promise<(Timing & { library: string }) | string> {
  const enc: number[] = [];
  const dec: number[] = [];
  let library = '';
  for (let r = 0; r < reps; r++) {
    const ids = source(vocab, r + 1);
    try {
      const { stdout, stderr } = await promisify(execFile)(peerTool, [path, String(GENERATE), ids.join(','), String(threads)], { cwd: repoRoot, maxBuffer: 64 << 20 });
      library = /llama-seq2seq: library (\S+)/.exec(stderr)?.[1] ?? 'unknown';
      const line = JSON.parse(stdout.trim().split('\n').pop() ?? '') as PeerLine;
      enc.push((line.encodeTokens * 1000) / line.encodeMs);
      dec.push((line.decodeTokens * 1000) / line.decodeMs);
    } catch (err) {
      return `llama-seq2seq.sh failed: ${(err as Error).message.slice(0, 300)}`;
    }
  }
  return { encodeTps: median(enc), decodeTps: median(dec), library };
}

export async function run(flags: string[]): Promise<void> {
  const opt = (name: string, def: string): string => flags.find((f) => f.startsWith(`--${name}=`))?.split('=')[1] ?? def;
  const quick = flags.includes('--quick');
  const threads = opt('threads', '1,2').split(',').map(Number);
  const reps = Number(opt('reps', quick ? '1' : '3'));
  const names = opt('models', quick ? 't5-tiny,flan-t5-tiny' : 't5-small,flan-t5-base').split(',');
  const rows: Row[] = [];
  const libraries = new Set<string>();
  for (const name of names) {
    const path = modelPath(name);
    using mf = openModelFile(path);
    const vocab = buildEncoderDecoder(mf, getBackend('native')).config.vocabSize;
    for (const t of threads) {
      const theirs = await peer(path, vocab, t, reps);
      if (typeof theirs === 'string') console.log(`llama.cpp ${name} @${t}: ${theirs}`);
      else libraries.add(theirs.library);
      const o = ours(path, t, reps);
      const p = typeof theirs === 'string' ? null : theirs;
      rows.push({
        model: name,
        threads: t,
        'encode tok/s': o.encodeTps,
        'llama.cpp encode': p?.encodeTps ?? null,
        'encode ×': p ? o.encodeTps / p.encodeTps : null,
        'decode tok/s': o.decodeTps,
        'llama.cpp decode': p?.decodeTps ?? null,
        'decode ×': p ? o.decodeTps / p.decodeTps : null,
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  const lib = [...libraries].join(', ') || 'did not run';
  printTable(`e2e-t5: ${SOURCE}-token source, ${GENERATE} decoded, greedy (medians of ${reps}; llama.cpp library: ${lib})`, rows);
  writeResults('e2e-t5', { sourceTokens: SOURCE, generatedTokens: GENERATE, reps, llamaLibrary: lib, rows });
}
