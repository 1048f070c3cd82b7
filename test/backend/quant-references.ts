/**
 * Independent references for the weight-type tests, each optional (tests skip with a message when
 * one is absent):
 * - gguf-py's numpy (de)quantizers, from the llama.cpp source node-llama-cpp ships
 *   (llama/gitRelease.bundle), run with Debian's python3-numpy;
 * - llama.cpp's own quantizer, `../shared/tools/llama-quantize.sh IN OUT TYPE`;
 * - the stories260K-wide files llama.cpp wrote for every type (../shared/models/stories260K-wide).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peersModulePath, repoRoot, shared } from '../formats/helpers.js';

export const wideDir = join(shared, 'models', 'stories260K-wide');
export const wideFile = (type: string): string => join(wideDir, `stories260K-wide-${type}.gguf`);
export const haveWide = existsSync(wideFile('f32'));
export const wideMissing = `../shared/models/stories260K-wide is absent: skipped`;

const peers = peersModulePath();
const bundle = peers ? join(peers, '..', '..', 'llama', 'gitRelease.bundle') : null;
const quantizeTool = join(shared, 'tools', 'llama-quantize.sh');

const numpyOk = spawnSync('/usr/bin/python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;

/** Why gguf-py cannot run here, or null when it can. */
export const ggufPyMissing: string | null = !numpyOk
  ? 'python3 with numpy is absent (apt-get install python3-numpy): skipped'
  : !bundle || !existsSync(bundle) ? 'node-llama-cpp (with its llama.cpp source bundle) is not installed in bench/peers: skipped' : null;

export const quantizeMissing: string | null = !existsSync(quantizeTool)
  ? '../shared/tools/llama-quantize.sh is absent: skipped'
  : !peers ? 'node-llama-cpp is not installed in bench/peers: skipped' : null;

let ggufPyDir: string | null = null;

/** gguf-py checked out from the bundle (once per machine, cached in the temp dir). */
function ggufPy(): string {
  if (ggufPyDir) return ggufPyDir;
  const dir = join(process.env.TMPDIR ?? tmpdir(), 'tensorloom-gguf-py');
  if (!existsSync(join(dir, 'gguf-py', 'gguf', 'quants.py'))) {
    rmSync(dir, { recursive: true, force: true });
    const run = (args: string[]) => {
      const r = spawnSync('git', args, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    };
    run(['clone', '-q', '--no-checkout', bundle!, dir]);
    run(['-C', dir, 'checkout', '-q', 'HEAD', '--', 'gguf-py']);
  }
  ggufPyDir = join(dir, 'gguf-py');
  return ggufPyDir;
}

export type TensorValues = Map<string, { type: string; values: Float32Array }>;

/** Every tensor of each GGUF file dequantized by gguf-py's numpy reference, by file, then by name. */
export function numpyDequantize(paths: readonly string[]): Map<string, TensorValues> {
  const out = mkdtempSync(join(tmpdir(), 'tl-numpy-'));
  try {
    const script = join(repoRoot, 'test', 'backend', 'gguf_py_dequantize.py');
    const r = spawnSync('/usr/bin/python3', [script, ggufPy(), out, ...paths], { encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`gguf_py_dequantize.py failed: ${r.stderr}`);
    const listing = JSON.parse(r.stdout) as Record<string, { name: string; type: string; file: string }[]>;
    const files = new Map<string, TensorValues>();
    for (const [path, tensors] of Object.entries(listing)) {
      const map: TensorValues = new Map();
      for (const t of tensors) {
        const b = readFileSync(t.file);
        map.set(t.name, { type: t.type, values: new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4) });
      }
      files.set(path, map);
    }
    return files;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const quantized = join(process.env.TMPDIR ?? tmpdir(), 'tensorloom-llama-quantized');

/**
 * IN quantized to TYPE by llama.cpp's own quantizer (cached in the temp dir by input name and type;
 * ≈ 2 s a file once the tool is built, ≈ 10 s the first time).
 */
export function llamaQuantize(input: string, type: string): string {
  mkdirSync(quantized, { recursive: true });
  const base = input.replace(/^.*\//, '').replace(/\.gguf$/, '');
  const out = join(quantized, `${base}.${type}.gguf`);
  if (existsSync(out)) return out;
  const tmp = `${out}.${process.pid}.tmp`;
  const r = spawnSync('bash', [quantizeTool, input, tmp, type], { cwd: repoRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`llama-quantize.sh ${type} failed: ${r.stderr.slice(-2000)}`);
  spawnSync('mv', [tmp, out]);
  return out;
}
