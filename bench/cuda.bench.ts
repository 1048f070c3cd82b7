/**
 * npx tsx bench/run.ts cuda [--full]
 *
 * The CUDA backend on the GPU, device-resident buffers (no host copies in the timed region):
 * - GEMM/GEMV TFLOP/s (and GB/s of weights for M ≤ 8) for f16/bf16/f32/q8_0 weights, next to
 *   PyTorch's torch.matmul (cuBLAS) on the same shapes through bench/peers/torch_cuda.py;
 * - fused attention, prefill (T = S, causal) and decode (T = 1 against S cached keys), H = 32,
 *   D = 128, f16 KV, for B sequences, next to torch SDPA with the flash backend. Our kernel takes one
 *   sequence per call, so B sequences are B calls (torch gets them as one [B, H, T, D] batch).
 * Skips with the reason when there is no CUDA build or no GPU.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cudaStatus, getCudaBackend, type CudaBackend } from '../ts/backend/cuda/index.js';
import { WEIGHT_TYPES, type DType } from '../ts/index.js';
import { printTable, timeIt, writeResults, type Row } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));

interface GemmCase { M: number; N: number; K: number; dtype: 'f32' | 'f16' | 'bf16' | 'q8_0' }
interface AttnCase { B: number; H: number; Hkv: number; D: number; T: number; S: number }

const BYTES = (t: DType): number => WEIGHT_TYPES[t].blockBytes / WEIGHT_TYPES[t].blockSize;

function gemmCases(full: boolean): GemmCase[] {
  const shapes: [number, number, number][] = [
    [1, 4096, 4096], [1, 14336, 4096], [8, 4096, 4096], // decode (GEMV)
    [64, 4096, 4096], [512, 4096, 4096], [2048, 4096, 4096], [4096, 4096, 4096], [2048, 14336, 4096],
  ];
  const out: GemmCase[] = [];
  for (const dtype of ['f16', 'bf16', 'f32', 'q8_0'] as const) {
    for (const [M, N, K] of shapes) {
      if (!full && (dtype === 'f32' || dtype === 'q8_0') && M > 512) continue;
      out.push({ M, N, K, dtype });
    }
  }
  return out;
}

function attnCases(full: boolean): AttnCase[] {
  const out: AttnCase[] = [];
  const batches = full ? [1, 2, 4, 8] : [1, 8];
  for (const T of [1024, 4096, 16384]) {
    for (const B of batches) {
      out.push({ B, H: 32, Hkv: 32, D: 128, T, S: T }); // prefill
      out.push({ B, H: 32, Hkv: 32, D: 128, T: 1, S: T }); // decode against T cached
    }
  }
  out.push({ B: 1, H: 32, Hkv: 8, D: 128, T: 1, S: 16384 }); // GQA decode (Llama-3 style)
  return out;
}

// Times `op` on the GPU: `inner` launches per sample, one synchronize, median per launch.
function gpuMs(cuda: CudaBackend, op: () => void, inner: number): number {
  return timeIt(() => {
    for (let i = 0; i < inner; i++) op();
    cuda.synchronize();
  }, { samples: 5, minSampleMs: 50, warmup: 1 }).ms / inner;
}

function randomBytes(n: number, kind: 'f32' | 'f16' | 'bf16' | 'q8_0'): ArrayBufferView {
  if (kind === 'f32') return Float32Array.from({ length: n }, () => Math.random() * 2 - 1);
  if (kind === 'q8_0') {
    const b = new Uint8Array((n * 34) / 32);
    for (let i = 0; i < b.length; i += 34) {
      b[i] = 0x00; b[i + 1] = 0x20; // f16 scale 0.0078125
      for (let j = 2; j < 34; j++) b[i + j] = (Math.random() * 255) | 0;
    }
    return b;
  }
  // f16 / bf16 bit patterns of small values in ±[0.5, 1)
  const h = new Uint16Array(n);
  const [base, span] = kind === 'f16' ? [0x3800, 0x400] : [0x3f00, 0x80];
  for (let i = 0; i < n; i++) h[i] = (base + ((Math.random() * span) | 0)) | (Math.random() < 0.5 ? 0x8000 : 0);
  return h;
}

function torchPeer(spec: { gemm: GemmCase[]; attention: AttnCase[] }): { device?: string; gemm?: (number | null)[]; attention?: (number | null)[]; skipped?: string } {
  try {
    const out = execFileSync('python3', [join(here, 'peers', 'torch_cuda.py'), JSON.stringify(spec)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 30 * 60_000,
    });
    return JSON.parse(out.trim().split('\n').pop()!) as ReturnType<typeof torchPeer>;
  } catch (err) {
    return { skipped: `torch peer failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

export async function run(flags: string[]): Promise<void> {
  const status = cudaStatus();
  if (!status.available) {
    console.log(`bench cuda: skipped: ${status.reason}`);
    return;
  }
  const full = flags.includes('--full');
  const cuda = getCudaBackend();
  console.log(`device: ${cuda.info().device.name} (sm ${cuda.info().device.computeCapability})`);
  const gemm = gemmCases(full);
  const attn = attnCases(full);

  // ── ours ──
  const gemmMs: number[] = [];
  for (const c of gemm) {
    const w = cuda.upload(randomBytes(c.N * c.K, c.dtype));
    const a = cuda.upload(randomBytes(c.M * c.K, 'f32'));
    const o = cuda.alloc(c.M * c.N * 4);
    const dw = { dtype: c.dtype, rows: c.N, cols: c.K, buffer: w };
    gemmMs.push(gpuMs(cuda, () => cuda.device.matmulT(o, a, dw, c.M), c.M <= 8 ? 50 : 3));
    for (const b of [w, a, o]) b.free();
  }
  const attnMs: number[] = [];
  for (const c of attn) {
    const q = cuda.upload(randomBytes(c.T * c.H * c.D, 'f32'));
    const k = cuda.upload(randomBytes(c.S * c.Hkv * c.D, 'f16'));
    const v = cuda.upload(randomBytes(c.S * c.Hkv * c.D, 'f16'));
    const o = cuda.alloc(c.T * c.H * c.D * 4);
    const shape = { T: c.T, S: c.S, H: c.H, Hkv: c.Hkv, D: c.D, posOffset: c.S - c.T, kvDtype: 'f16' as const };
    attnMs.push(gpuMs(cuda, () => { for (let b = 0; b < c.B; b++) cuda.device.attention(o, q, k, v, shape); }, c.T === 1 ? 20 : 1));
    for (const b of [q, k, v, o]) b.free();
  }

  // ── torch, same shapes, same run ──
  const peer = torchPeer({ gemm, attention: attn });
  if (peer.skipped) console.log(`torch peer: ${peer.skipped}`);
  else console.log(`torch peer: ${peer.device}`);

  const gemmRows: Row[] = gemm.map((c, i) => {
    const ms = gemmMs[i]!;
    const flops = 2 * c.M * c.N * c.K;
    const t = peer.gemm?.[i] ?? null;
    return {
      dtype: c.dtype, 'M×N×K': `${c.M}×${c.N}×${c.K}`, 'ms': ms, 'TFLOP/s': flops / ms / 1e9,
      'weights GB/s': (c.N * c.K * BYTES(c.dtype)) / ms / 1e6,
      'torch ms': t, 'vs torch': t === null ? null : t / ms,
    };
  });
  printTable('GEMM out = a · wᵀ (f32 activations; torch: both operands in the weight dtype)', gemmRows);

  const attnRows: Row[] = attn.map((c, i) => {
    const ms = attnMs[i]!;
    const t = peer.attention?.[i] ?? null;
    const causalPairs = c.T === 1 ? c.S : (c.T * (c.T + 1)) / 2;
    return {
      kind: c.T === 1 ? 'decode' : 'prefill', B: c.B, 'H/Hkv': `${c.H}/${c.Hkv}`, T: c.T, S: c.S, ms,
      'TFLOP/s': (c.B * 4 * causalPairs * c.H * c.D) / ms / 1e9,
      'torch flash ms': t, 'vs torch': t === null ? null : t / ms,
    };
  });
  printTable('Attention, D = 128, f16 KV (ours: q f32, B sequential calls)', attnRows);

  writeResults('cuda', { device: cuda.info().device, torch: peer.skipped ? { skipped: peer.skipped } : { device: peer.device }, gemm: gemmRows, attention: attnRows });
}
