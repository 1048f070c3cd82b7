/**
 * Gemma 4's per-layer inputs (Gemma 3n's "per-layer embeddings"), as llama.cpp's graph computes
 * them. Once per step, for every row and layer l, a small vector of P values:
 *   e_l = per_layer_token_embd[token][l·P : (l+1)·P] · √P
 *   p_l = RMSNorm(per_layer_model_proj · x0 / √dim)[l·P : (l+1)·P] · per_layer_proj_norm
 *   in_l = (p_l + e_l) / √2
 * where x0 is the step's scaled token embedding. Each block then ends with (`forward`, a BlockTail)
 *   x += post_norm(proj(gelu(inp_gate · x) ⊙ in_l));  x *= layer_output_scale (when the file has one)
 * A file without per-layer inputs (P = 0: Gemma 4 26B/31B) keeps only the output scales.
 */
import type { Backend, Weights } from '../backend/types.js';
import type { BlockTail } from './block.js';
import { Embedding } from './embedding.js';
import type { Linear } from './linear.js';
import type { RMSNorm } from './rmsnorm.js';
import type { Workspace } from './workspace.js';

export interface PerLayerInputLayer {
  /** [P, dim]: x → the P values the layer's input gates. */
  gate: Linear;
  /** [dim, P]: back to the model width. */
  proj: Linear;
  /** RMSNorm over dim of the projected values. */
  postNorm: RMSNorm;
}

export interface PerLayerInputOptions {
  /** The per-layer inputs, or null when the file has none (only the output scales apply). */
  inputs: PerLayerInputs | null;
  /** Per layer: multiplies the block's output (layer_output_scale), or null. */
  outScales: (number | null)[];
  dim: number;
}

export interface PerLayerInputs {
  /** [vocab, layers·P]. */
  tokenTable: Weights;
  /** [layers·P, dim]. */
  modelProj: Linear;
  /** RMSNorm over P (per_layer_proj_norm). */
  projNorm: RMSNorm;
  layers: PerLayerInputLayer[];
  /** P: values per layer and row. */
  perLayer: number;
}

export class PerLayerInput implements BlockTail {
  private readonly table: Embedding | null;
  private readonly nLayers: number;
  /** The current step's inputs [M, layers, P] (a workspace buffer, refilled by `prepare`). */
  private inputs: Float32Array = new Float32Array(0);

  constructor(
    private readonly backend: Backend,
    readonly o: PerLayerInputOptions,
  ) {
    const L = (this.nLayers = o.outScales.length);
    const dim = o.dim;
    const p = o.inputs;
    this.table = p ? new Embedding(backend, p.tokenTable) : null;
    if (!p) return;
    const P = p.perLayer;
    if (p.layers.length !== L) throw new RangeError(`tensorloom: ${p.layers.length} per-layer input layers for ${L} layers`);
    if (p.tokenTable.cols !== L * P) throw new RangeError(`tensorloom: per_layer_token_embd has ${p.tokenTable.cols} columns, expected ${L * P} (layers × per-layer width)`);
    if (p.modelProj.outFeatures !== L * P || p.modelProj.inFeatures !== dim) {
      throw new RangeError(`tensorloom: per_layer_model_proj is [${p.modelProj.outFeatures}, ${p.modelProj.inFeatures}], expected [${L * P}, ${dim}]`);
    }
    if (p.projNorm.dim !== P) throw new RangeError(`tensorloom: per_layer_proj_norm has ${p.projNorm.dim} elements, expected ${P}`);
    p.layers.forEach((l, i) => {
      if (l.gate.outFeatures !== P || l.gate.inFeatures !== dim) throw new RangeError(`tensorloom: layer ${i} inp_gate is [${l.gate.outFeatures}, ${l.gate.inFeatures}], expected [${P}, ${dim}]`);
      if (l.proj.outFeatures !== dim || l.proj.inFeatures !== P) throw new RangeError(`tensorloom: layer ${i} proj is [${l.proj.outFeatures}, ${l.proj.inFeatures}], expected [${dim}, ${P}]`);
      if (l.postNorm.dim !== dim) throw new RangeError(`tensorloom: layer ${i} post_norm has ${l.postNorm.dim} elements, expected ${dim}`);
    });
  }

  /** Computes the step's inputs from its M tokens and scaled embeddings x0[M, dim]. */
  prepare(tokens: Int32Array, x0: Float32Array, M: number, ws: Workspace): void {
    const p = this.o.inputs;
    if (!p || !this.table) return;
    const P = p.perLayer;
    const LP = this.nLayers * P;
    const e = ws.rows('ple.embd', M, LP);
    const inputs = (this.inputs = ws.rows('ple.inputs', M, LP));
    this.table.forward(e, tokens.subarray(0, M));
    p.modelProj.forward(inputs, x0, M);
    // float32 factors, as ggml_scale takes them
    const projScale = Math.fround(1 / Math.fround(Math.sqrt(this.o.dim)));
    const embdScale = Math.fround(Math.sqrt(P));
    const half = Math.fround(1 / Math.fround(Math.SQRT2));
    for (let i = 0; i < M * LP; i++) inputs[i] = Math.fround(inputs[i]! * projScale);
    p.projNorm.forward(inputs, inputs, M * this.nLayers);
    for (let i = 0; i < M * LP; i++) inputs[i] = Math.fround(Math.fround(inputs[i]! + Math.fround(e[i]! * embdScale)) * half);
  }

  forward(x: Float32Array, T: number, layer: number, ws: Workspace): void {
    const dim = this.o.dim;
    const p = this.o.inputs;
    if (p) {
      const P = p.perLayer;
      const l = p.layers[layer]!;
      const g = ws.rows('ple.gate', T, P);
      const y = ws.rows('ple.out', T, dim);
      l.gate.forward(g, x, T);
      this.backend.gelu(g, g, 'tanh');
      const LP = this.nLayers * P;
      for (let t = 0; t < T; t++) {
        const at = t * LP + layer * P;
        for (let i = 0; i < P; i++) g[t * P + i]! *= this.inputs[at + i]!;
      }
      l.proj.forward(y, g, T);
      l.postNorm.forward(y, y, T);
      this.backend.add(x, x, y);
    }
    const s = this.o.outScales[layer] ?? null;
    if (s !== null) for (let i = 0; i < T * dim; i++) x[i]! *= s;
  }
}
