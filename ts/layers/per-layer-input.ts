/**
 * Gemma 4's per-layer inputs (Gemma 3n's "per-layer embeddings"), as llama.cpp's graph computes
 * them. Once per step, for every row and layer l, a small vector of P values:
 *   e_l = per_layer_token_embd[token][l·P : (l+1)·P] · √P
 *   p_l = RMSNorm(per_layer_model_proj · x0 / √dim)[l·P : (l+1)·P] · per_layer_proj_norm
 *   in_l = (p_l + e_l) / √2
 * where x0 is the step's scaled token embedding. Each block then ends with (`forward`, a BlockTail)
 *   x += post_norm(proj(gelu(inp_gate · x) ⊙ in_l));  x *= layer_output_scale (when the file has one)
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
  /** Multiplies the block's output (layer_output_scale), or null. */
  outScale: number | null;
}

export interface PerLayerInputOptions {
  /** [vocab, layers·P]. */
  tokenTable: Weights;
  /** [layers·P, dim]. */
  modelProj: Linear;
  /** RMSNorm over P (per_layer_proj_norm). */
  projNorm: RMSNorm;
  layers: PerLayerInputLayer[];
  dim: number;
  /** P: values per layer and row. */
  perLayer: number;
}

export class PerLayerInput implements BlockTail {
  private readonly table: Embedding;
  private readonly nLayers: number;
  /** The current step's inputs [M, layers, P] (a workspace buffer, refilled by `prepare`). */
  private inputs: Float32Array = new Float32Array(0);

  constructor(
    private readonly backend: Backend,
    readonly o: PerLayerInputOptions,
  ) {
    const L = (this.nLayers = o.layers.length);
    const P = o.perLayer;
    if (o.tokenTable.cols !== L * P) throw new RangeError(`tensorloom: per_layer_token_embd has ${o.tokenTable.cols} columns, expected ${L * P} (layers × per-layer width)`);
    if (o.modelProj.outFeatures !== L * P || o.modelProj.inFeatures !== o.dim) {
      throw new RangeError(`tensorloom: per_layer_model_proj is [${o.modelProj.outFeatures}, ${o.modelProj.inFeatures}], expected [${L * P}, ${o.dim}]`);
    }
    if (o.projNorm.dim !== P) throw new RangeError(`tensorloom: per_layer_proj_norm has ${o.projNorm.dim} elements, expected ${P}`);
    o.layers.forEach((l, i) => {
      if (l.gate.outFeatures !== P || l.gate.inFeatures !== o.dim) throw new RangeError(`tensorloom: layer ${i} inp_gate is [${l.gate.outFeatures}, ${l.gate.inFeatures}], expected [${P}, ${o.dim}]`);
      if (l.proj.outFeatures !== o.dim || l.proj.inFeatures !== P) throw new RangeError(`tensorloom: layer ${i} proj is [${l.proj.outFeatures}, ${l.proj.inFeatures}], expected [${o.dim}, ${P}]`);
      if (l.postNorm.dim !== o.dim) throw new RangeError(`tensorloom: layer ${i} post_norm has ${l.postNorm.dim} elements, expected ${o.dim}`);
    });
    this.table = new Embedding(backend, o.tokenTable);
  }

  /** Computes the step's inputs from its M tokens and scaled embeddings x0[M, dim]. */
  prepare(tokens: Int32Array, x0: Float32Array, M: number, ws: Workspace): void {
    const { dim, perLayer: P } = this.o;
    const LP = this.nLayers * P;
    const e = ws.rows('ple.embd', M, LP);
    const p = (this.inputs = ws.rows('ple.inputs', M, LP));
    this.table.forward(e, tokens.subarray(0, M));
    this.o.modelProj.forward(p, x0, M);
    // float32 factors, as ggml_scale takes them
    const projScale = Math.fround(1 / Math.fround(Math.sqrt(dim)));
    const embdScale = Math.fround(Math.sqrt(P));
    const half = Math.fround(1 / Math.fround(Math.SQRT2));
    for (let i = 0; i < M * LP; i++) p[i] = Math.fround(p[i]! * projScale);
    this.o.projNorm.forward(p, p, M * this.nLayers);
    for (let i = 0; i < M * LP; i++) p[i] = Math.fround(Math.fround(p[i]! + Math.fround(e[i]! * embdScale)) * half);
  }

  forward(x: Float32Array, T: number, layer: number, ws: Workspace): void {
    const { dim, perLayer: P } = this.o;
    const l = this.o.layers[layer]!;
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
    const s = l.outScale;
    if (s !== null) for (let i = 0; i < T * dim; i++) x[i]! *= s;
  }
}
