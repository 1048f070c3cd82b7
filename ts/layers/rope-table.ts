/**
 * RoPE with a scaled frequency schedule — Llama 3's per-frequency factors, linear position
 * interpolation, YaRN — as llama.cpp's `ggml_rope_ext` computes it: for pair i of a head and
 * position p, θ_extrap = p · base^(-2i/dims) / factor_i and θ_interp = θ_extrap · freqScale; YaRN
 * blends the two by a ramp over the pair index (between its correction dims) and scales cos/sin
 * by mscale. The cos/sin of each position are computed once and kept (the table grows as
 * positions are reached), so a decode step only multiplies. q and k are rotated here, before the
 * attention kernel, which then runs without RoPE.
 */
import { fmaf } from '../backend/js/fmaf.js';
import { jsScaledRope } from '../backend/js/rope-scaled.js';
import type { RopeLayout, ScaledRopeOps, ScaledRopeTableParams } from '../backend/types.js';

export interface RopeScaling {
  /** 'llama3': per-pair divisors (`freqFactors`); 'linear': positions ÷ factor; 'yarn': YaRN. */
  type: 'llama3' | 'linear' | 'yarn' | 'longrope';
  /** Context extension factor (linear, yarn: freqScale = 1/factor). */
  factor: number;
  /** llama3: one divisor per rotated pair (GGUF rope_freqs.weight). */
  freqFactors?: Float32Array;
  /** yarn: the context the model was trained with before extension. */
  originalContext?: number;
  /** yarn: ramp bounds in rotations (llama.cpp's defaults 32 and 1). */
  betaFast?: number;
  betaSlow?: number;
  /**
   * yarn: multiplier of the cos/sin magnitude on top of YaRN's own 1 + 0.1 ln(factor) (GGUF
   * rope.scaling.attn_factor, which llama.cpp's loader reads for every family; default 1).
   */
  attnFactor?: number;
  /**
   * yarn: config.json's `attention_factor` as given, the whole magnitude in Hugging Face's terms
   * (attnFactor holds it relative to 1 + 0.1 ln(factor)). Written as llama.cpp's converter writes it
   * (rope.scaling.yarn_attn_factor, which llama.cpp's loader reads for Grok only); not used here.
   */
  yarnAttnFactor?: number;
  /**
   * yarn: `mscale_all_dim` (GGUF rope.scaling.yarn_log_multiplier): the magnitude becomes
   * (1 + 0.1 ln f) / (1 + 0.1 · logMul · ln f) instead of 1 + 0.1 ln f (Ministral 3, DeepSeek).
   */
  logMul?: number;
}

export interface ScaledRopeOptions {
  theta: number;
  layout: RopeLayout;
  /** Rotated dimensions per head. */
  dims: number;
  scaling: RopeScaling;
  /** Fills the cos/sin table (the model's backend: the C library's cosf/sinf natively); default the JS recipe. */
  backend?: ScaledRopeOps;
}

const f = Math.fround;
/** C's logf on a float (the float nearest the exact logarithm). */
const logf = (x: number): number => f(Math.log(f(x)));

export class RopeTable {
  private readonly half: number;
  /** The f32 recipe's inputs: YaRN's ramp per pair (null without YaRN) and the magnitude. */
  private readonly params: ScaledRopeTableParams;
  private readonly fill: ScaledRopeOps;
  /** cos/sin interleaved per position: [positions, half, 2]. */
  private table = new Float32Array(0);
  private positions = 0;

  /**
   * Every quantity is rounded to float where ggml's CPU RoPE (ggml_rope_cache_init, rope_yarn,
   * ggml_rope_yarn_corr_dims) and llama.cpp's context setup (yarn_attn_factor) keep a float, in
   * their order: the angle of pair i at position p is p · scale^i accumulated by repeated float
   * multiplication, not p · base^(-2i/dims) at once.
   */
  constructor(readonly o: ScaledRopeOptions) {
    const s = o.scaling;
    const half = (this.half = o.dims / 2);
    if (!Number.isInteger(half) || half < 1) throw new RangeError(`tensorloom: RoPE dims must be a positive even number, got ${o.dims}`);
    if (!(s.factor > 0)) throw new RangeError(`tensorloom: RoPE scaling factor must be > 0, got ${s.factor}`);
    const ff = s.freqFactors;
    if (ff && ff.length !== half) throw new RangeError(`tensorloom: rope_freqs has ${ff.length} factors, expected ${half} (one per rotated pair)`);
    const base = f(o.theta);
    const freqScale = s.type === 'llama3' ? 1 : f(1 / f(s.factor));
    const attnFactor = f(s.attnFactor ?? 1);
    let mscale = s.type === 'longrope' ? attnFactor : 1; // LongRoPE: factors as divisors, factor 1, a magnitude
    let ramp: Float32Array | null = null;
    if (s.type === 'yarn') {
      const nCtx = s.originalContext ?? 0;
      if (!(nCtx > 0)) throw new RangeError('tensorloom: YaRN needs the original context length (rope.scaling.original_context_length)');
      const corr = (rotations: number) => f(f(o.dims * logf(f(nCtx / f(f(f(rotations) * 2) * f(Math.PI))))) / f(2 * logf(base)));
      const low = Math.max(0, Math.floor(corr(s.betaFast ?? 32)));
      const high = Math.min(o.dims - 1, Math.ceil(corr(s.betaSlow ?? 1)));
      ramp = new Float32Array(half);
      for (let i = 0; i < half; i++) {
        const y = f(f(i - low) / Math.max(0.001, f(high - low)));
        ramp[i] = 1 - Math.min(1, Math.max(0, y));
      }
      // llama.cpp's yarn_attn_factor: its magnitude over YaRN's own 1 + 0.1 ln(factor), which ggml multiplies back
      const factor = f(1 / freqScale);
      const get = (m: number) => (factor <= 1 ? 1 : f(f(f(f(0.1) * m) * logf(factor)) + 1));
      const own = f(1 + f(f(0.1) * logf(factor)));
      let a = s.logMul ? f(get(1) / get(f(s.logMul))) : get(1);
      a = f(f(a * f(1 / own)) * attnFactor);
      mscale = f(a * own);
    }
    this.params = { dims: o.dims, theta: base, freqScale, freqFactors: ff ?? null, ramp, mscale };
    this.fill = o.backend ?? jsScaledRope;
  }

  /** Makes sure positions [0, n) are in the table. */
  private ensure(n: number): void {
    if (n <= this.positions) return;
    const cap = Math.max(n, this.positions * 2, 64);
    const t = new Float32Array(cap * this.half * 2);
    t.set(this.table.subarray(0, this.positions * this.half * 2));
    this.fill.ropeScaledTable(t.subarray(this.positions * this.half * 2), this.positions, cap - this.positions, this.params);
    this.table = t;
    this.positions = cap;
  }

  /**
   * Rotates x[T, heads, D] in place, row t at position pos + t, as ggml's FMA builds do (and the
   * backends' plain RoPE): x0' = fma(x0, c, -(x1·s)), x1' = fma(x0, s, x1·c).
   */
  apply(x: Float32Array, T: number, heads: number, D: number, pos: number): void {
    this.ensure(pos + T);
    const half = this.half;
    const interleaved = this.o.layout === 'interleaved';
    const tab = this.table;
    for (let t = 0; t < T; t++) {
      const c0 = (pos + t) * half * 2;
      for (let h = 0; h < heads; h++) {
        const off = (t * heads + h) * D;
        for (let i = 0; i < half; i++) {
          const i0 = interleaved ? off + 2 * i : off + i;
          const i1 = interleaved ? i0 + 1 : i0 + half;
          const c = tab[c0 + 2 * i]!;
          const s = tab[c0 + 2 * i + 1]!;
          const x0 = x[i0]!;
          const x1 = x[i1]!;
          x[i0] = fmaf(x0, c, -f(x1 * s));
          x[i1] = fmaf(x0, s, f(x1 * c));
        }
      }
    }
  }
}

/**
 * Llama 3's per-pair frequency divisors from its config.json `rope_scaling` (factor,
 * low_freq_factor, high_freq_factor, original_max_position_embeddings), as llama.cpp's converter
 * computes the rope_freqs tensor: high frequencies kept, low ones divided by `factor`, a smooth
 * blend between.
 */
export function llama3FreqFactors(theta: number, dims: number, p: { factor?: number; lowFreqFactor?: number; highFreqFactor?: number; originalContext?: number }): Float32Array {
  const factor = p.factor ?? 8;
  const low = p.lowFreqFactor ?? 1;
  const high = p.highFreqFactor ?? 4;
  const old = p.originalContext ?? 8192;
  const lowWavelen = old / low;
  const highWavelen = old / high;
  const out = new Float32Array(dims / 2);
  for (let i = 0; i < dims / 2; i++) {
    const freq = 1 / Math.pow(theta, (2 * i) / dims);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = factor;
    else {
      const smooth = (old / wavelen - low) / (high - low);
      out[i] = 1 / ((1 - smooth) / factor + smooth);
    }
  }
  return out;
}
