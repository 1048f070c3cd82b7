/**
 * Tokenizer throughput, side by side in one run, on the shared ~10 MB mixed corpus
 * (node ../shared/tools/make-corpus.mjs; cached under /tmp, never committed):
 *   - GPT-2 vocabulary: ours vs tiktoken (WASM), js-tiktoken, gpt-tokenizer and Hugging Face
 *     tokenizers' native build (@anush008/tokenizers, fed a tokenizer.json we write from the GGUF);
 *     encode the whole string, encode 1 KB documents, decode; ids checked against ours;
 *   - Llama SentencePiece vocabulary: ours vs Hugging Face tokenizers native;
 *   - pathological inputs (1 MB without spaces, a 1 MB run of one character): ours, time shown;
 *   - trainBPE: a 4096-token byte-level vocabulary from the corpus (one run).
 * "ours" is a tokenizer whose piece cache is warm from the warm-up run (a long-lived tokenizer);
 * "ours (fresh)" loads a new tokenizer before every sample (load time excluded): empty cache.
 *
 *   npx tsx bench/run.ts tokenizer [--quick] [--samples=N]
 * --quick uses the first 1 MB of the corpus.
 */
import { Tokenizer as HFTokenizer } from '@anush008/tokenizers';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as gptTokEncode, decode as gptTokDecode } from 'gpt-tokenizer/encoding/gpt2';
import { getEncoding as jsTiktokenEncoding } from 'js-tiktoken';
import { get_encoding as tiktokenEncoding } from 'tiktoken';
import { loadTokenizer, toTokenizerJSON, trainBPE, type Tokenizer } from '../ts/tokenizers/index.js';
import { median, printTable, writeResults, type Row } from './lib.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const shared = [join(repoRoot, '..', 'shared'), join(repoRoot, '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(repoRoot, '..', 'shared');
const vocab = (name: string) => join(shared, 'tokenizers', 'llama.cpp-vocab', `ggml-vocab-${name}.gguf`);
const CORPUS_DIR = '/tmp/tensorloom-tokenizer-corpus';

function corpus(): string {
  const path = join(CORPUS_DIR, 'corpus.txt');
  if (!existsSync(path)) {
    mkdirSync(CORPUS_DIR, { recursive: true });
    console.log(`building the corpus in ${CORPUS_DIR} …`);
    execFileSync(process.execPath, [join(shared, 'tools', 'make-corpus.mjs'), CORPUS_DIR], { stdio: 'inherit' });
  }
  return readFileSync(path, 'utf8');
}

/** ~1 KB (UTF-8) documents cut at code point boundaries. */
function documents(text: string, bytes = 1024): string[] {
  const docs: string[] = [];
  let start = 0;
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) continue; // second half of a pair: counted with the first
    size += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c <= 0xdbff ? 4 : 3;
    if (size >= bytes) {
      const end = c >= 0xd800 && c <= 0xdbff ? i + 2 : i + 1;
      docs.push(text.slice(start, end));
      start = end;
      size = 0;
    }
  }
  if (start < text.length) docs.push(text.slice(start));
  return docs;
}

interface Sampler {
  samples: number;
  warmup: number;
}

async function time(fn: () => unknown, s: Sampler, before?: () => void): Promise<number> {
  for (let i = 0; i < s.warmup; i++) {
    before?.();
    await fn();
  }
  const xs: number[] = [];
  for (let i = 0; i < s.samples; i++) {
    before?.();
    const t0 = performance.now();
    await fn();
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const concat = (parts: ArrayLike<number>[]) => parts.flatMap((p) => Array.from(p));

export async function run(flags: string[]): Promise<void> {
  const quick = flags.includes('--quick');
  const samplesFlag = flags.find((f) => f.startsWith('--samples='));
  const s: Sampler = { samples: samplesFlag ? Number(samplesFlag.split('=')[1]) : 3, warmup: 1 };
  let text = corpus();
  if (quick) text = documents(text, 1 << 20)[0]!;
  const MB = Buffer.byteLength(text) / 1e6;
  const docs = documents(text);
  console.log(`corpus: ${MB.toFixed(2)} MB, ${docs.length} documents of ~1 KB; median of ${s.samples} after ${s.warmup} warm-up`);
  const rate = (ms: number) => Number((MB / (ms / 1000)).toFixed(2));
  const results: Record<string, unknown> = { corpusMB: MB, documents: docs.length, samples: s.samples };

  // ── GPT-2 ─────────────────────────────────────────────────────────────────────────────
  const gptPath = vocab('gpt-2');
  const ours = loadTokenizer(gptPath);
  const hf = HFTokenizer.fromString(JSON.stringify(toTokenizerJSON(ours)));
  const tk = tiktokenEncoding('gpt2');
  const jtk = jsTiktokenEncoding('gpt2');
  const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
  const ref = ours.encode(text, { addSpecialTokens: false });
  const refDocs = concat(docs.map((d) => ours.encode(d, { addSpecialTokens: false })));
  const refList = Array.from(ref);

  type Peer = {
    name: string;
    encode: (t: string) => ArrayLike<number> | Promise<ArrayLike<number>>;
    decode: (ids: number[] | Uint32Array) => string | Promise<string>;
    before?: () => void;
  };
  let fresh: Tokenizer = ours;
  const peers: Peer[] = [
    { name: 'ours', encode: (t) => ours.encode(t, { addSpecialTokens: false }), decode: (ids) => ours.decode(ids) },
    {
      name: 'ours (fresh)',
      encode: (t) => fresh.encode(t, { addSpecialTokens: false }),
      decode: (ids) => fresh.decode(ids),
      before: () => {
        fresh = loadTokenizer(gptPath);
      },
    },
    { name: 'tiktoken', encode: (t) => tk.encode(t, [], []), decode: (ids) => utf8.decode(tk.decode(ids instanceof Uint32Array ? ids : Uint32Array.from(ids))) },
    { name: 'js-tiktoken', encode: (t) => jtk.encode(t, [], []), decode: (ids) => jtk.decode(Array.from(ids)) },
    { name: 'gpt-tokenizer', encode: (t) => gptTokEncode(t, { disallowedSpecial: new Set() }), decode: (ids) => gptTokDecode(ids) },
    {
      name: 'HF tokenizers (native)',
      encode: async (t) => (await hf.encode(t, null, { addSpecialTokens: false })).getIds(),
      decode: (ids) => hf.decode(Array.from(ids), false),
    },
  ];
  const gptRows: Row[] = [];
  for (const p of peers) {
    console.log(`GPT-2: ${p.name} …`);
    const whole = await p.encode(text);
    const docIds = [] as ArrayLike<number>[];
    for (const d of docs) docIds.push(await p.encode(d));
    const decoded = await p.decode(p.name.startsWith('ours') || p.name === 'tiktoken' ? ref : refList);
    const wholeMs = await time(() => p.encode(text), s, p.before);
    const docsMs = await time(async () => {
      for (const d of docs) await p.encode(d);
    }, s, p.before);
    const ids = p.name.startsWith('ours') || p.name === 'tiktoken' ? ref : refList;
    const decMs = await time(() => p.decode(ids), s);
    gptRows.push({
      tokenizer: p.name,
      'encode MB/s': rate(wholeMs),
      '1 KB docs MB/s': rate(docsMs),
      'decode MB/s': rate(decMs),
      'same ids': same(whole, ref) && same(concat(docIds), refDocs) ? 'yes' : 'NO',
      'decode = text': decoded === text ? 'yes' : 'NO',
    });
  }
  tk.free();
  printTable('GPT-2 vocabulary (ggml-vocab-gpt-2.gguf)', gptRows);
  const row = (rows: Row[], name: string) => rows.find((r) => r.tokenizer === name)!;
  const ratio = (a: Row, b: Row, col: string) => Number(((a[col] as number) / (b[col] as number)).toFixed(2));
  const oursRow = row(gptRows, 'ours');
  const freshRow = row(gptRows, 'ours (fresh)');
  const tkRow = row(gptRows, 'tiktoken');
  const gptRatios = {
    'encode vs tiktoken': ratio(oursRow, tkRow, 'encode MB/s'),
    'encode vs tiktoken (fresh cache)': ratio(freshRow, tkRow, 'encode MB/s'),
    '1 KB docs vs tiktoken': ratio(oursRow, tkRow, '1 KB docs MB/s'),
    '1 KB docs vs tiktoken (fresh cache)': ratio(freshRow, tkRow, '1 KB docs MB/s'),
    'decode vs tiktoken': ratio(oursRow, tkRow, 'decode MB/s'),
  };
  console.log('ratios (goal: encode ≥ 2, decode ≥ 1):', gptRatios);
  results.gpt2 = { rows: gptRows, ratios: gptRatios };

  // ── Llama SentencePiece ────────────────────────────────────────────────────────────────
  const llamaPath = vocab('llama-spm');
  const llama = loadTokenizer(llamaPath);
  let llamaFresh: Tokenizer = llama;
  const hfLlama = HFTokenizer.fromString(JSON.stringify(toTokenizerJSON(llama)));
  // Hugging Face matches added tokens ("<s>") written in text, so ours runs with parseSpecial to compare
  const opt = { addSpecialTokens: false, parseSpecial: true };
  const llamaRef = llama.encode(text, opt);
  const llamaRefDocs = concat(docs.map((d) => llama.encode(d, opt)));
  const llamaPeers: Peer[] = [
    { name: 'ours', encode: (t) => llama.encode(t, opt), decode: (ids) => llama.decode(ids) },
    {
      name: 'ours (fresh)',
      encode: (t) => llamaFresh.encode(t, opt),
      decode: (ids) => llamaFresh.decode(ids),
      before: () => {
        llamaFresh = loadTokenizer(llamaPath);
      },
    },
    {
      name: 'HF tokenizers (native)',
      encode: async (t) => (await hfLlama.encode(t, null, { addSpecialTokens: false })).getIds(),
      decode: (ids) => hfLlama.decode(Array.from(ids), false),
    },
  ];
  const llamaRows: Row[] = [];
  for (const p of llamaPeers) {
    console.log(`Llama SPM: ${p.name} …`);
    const whole = await p.encode(text);
    const docIds = [] as ArrayLike<number>[];
    for (const d of docs) docIds.push(await p.encode(d));
    const wholeMs = await time(() => p.encode(text), s, p.before);
    const docsMs = await time(async () => {
      for (const d of docs) await p.encode(d);
    }, s, p.before);
    llamaRows.push({
      tokenizer: p.name,
      'encode MB/s': rate(wholeMs),
      '1 KB docs MB/s': rate(docsMs),
      'same ids': same(whole, llamaRef) && same(concat(docIds), llamaRefDocs) ? 'yes' : 'NO',
    });
  }
  printTable('Llama SentencePiece vocabulary (ggml-vocab-llama-spm.gguf)', llamaRows);
  const hfRow = row(llamaRows, 'HF tokenizers (native)');
  const llamaRatios = {
    'encode vs HF native': ratio(row(llamaRows, 'ours'), hfRow, 'encode MB/s'),
    'encode vs HF native (fresh cache)': ratio(row(llamaRows, 'ours (fresh)'), hfRow, 'encode MB/s'),
    '1 KB docs vs HF native': ratio(row(llamaRows, 'ours'), hfRow, '1 KB docs MB/s'),
    '1 KB docs vs HF native (fresh cache)': ratio(row(llamaRows, 'ours (fresh)'), hfRow, '1 KB docs MB/s'),
  };
  console.log('ratios (goal: ≥ 2):', llamaRatios);
  results.llamaSpm = { rows: llamaRows, ratios: llamaRatios };

  // ── pathological inputs: bounded work ─────────────────────────────────────────────────
  const patho: Row[] = [];
  let seed = 1;
  const letters = (n: number) => {
    let out = '';
    for (let i = 0; i < n; i++) out += 'abcdefghijklmnopqrstuvwxyz'[(seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 26];
    return out;
  };
  for (const [label, make] of [
    ['no spaces (random letters)', letters],
    ['one character repeated', (n: number) => 'a'.repeat(n)],
  ] as const) {
    for (const size of [256 << 10, 1 << 20]) {
      const input = make(size);
      for (const [name, path] of [['GPT-2', gptPath], ['Llama SPM', llamaPath]] as const) {
        let tok = loadTokenizer(path);
        const ms = await time(() => tok.encode(input, { addSpecialTokens: false }), { samples: 3, warmup: 0 }, () => {
          tok = loadTokenizer(path);
        });
        patho.push({ input: label, size: `${size >> 10} KB`, vocab: name, ms: Number(ms.toFixed(1)) });
      }
    }
  }
  printTable('pathological inputs (ours, fresh tokenizer each sample; ~linear growth = bounded)', patho);
  results.pathological = patho;

  // ── training ──────────────────────────────────────────────────────────────────────────
  const t0 = performance.now();
  const trained = trainBPE([text], { vocabSize: 4096, byteLevel: true, specialTokens: ['<|endoftext|>'] });
  const trainS = (performance.now() - t0) / 1000;
  const training = { corpusMB: Number(MB.toFixed(2)), vocabSize: trained.tokenizer.vocabSize, merges: trained.merges.length, seconds: Number(trainS.toFixed(1)) };
  printTable('trainBPE (byte-level, one run)', [training]);
  results.training = training;
  writeResults('tokenizer', results);
}
