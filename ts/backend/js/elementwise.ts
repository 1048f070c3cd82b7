/**
 * Row and elementwise ops in plain TypeScript (the baseline and fallback). Arithmetic in f64,
 * results rounded to f32 on store; the same argument checks as the native glue.
 */
import { expectArray, expectDim, expectLength } from '../checks.js';
import type { ElementwiseOps, GeluApproximation, Weights } from '../types.js';
import { dequantizeRow } from '../quants/index.js';
import { dataLength, storageArray, weightType } from '../weight-types.js';

function expectEps(eps: unknown): number {
  if (typeof eps !== 'number') throw new TypeError('tensorloom: eps must be a number');
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new RangeError('tensorloom: eps must be a finite number >= 0');
  return eps;
}

function rowArgs(out: unknown, x: unknown, rows: number, dim: number, dimName = 'dim'): void {
  expectDim('rows', rows, 0);
  expectDim(dimName, dim);
  const shape = `[rows=${rows}, ${dimName}=${dim}]`;
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, rows * dim, shape);
  expectArray('x', x, Float32Array);
  expectLength('x', x as Float32Array, rows * dim, shape);
}

function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array, rows: number, dim: number, eps: number): void {
  expectEps(eps);
  rowArgs(out, x, rows, dim);
  expectArray('weight', weight, Float32Array);
  expectLength('weight', weight, dim, '[dim]');
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    // llama.cpp's arithmetic (as the native kernels): f32 squares summed in a double, f32 mean,
    // 1/sqrtf(mean + eps), then (x·scale)·w in f32.
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += Math.fround(x[o + i]! * x[o + i]!);
    const f = Math.fround;
    const inv = f(1 / f(Math.sqrt(f(f(ss / dim) + f(eps)))));
    for (let i = 0; i < dim; i++) out[o + i] = f(x[o + i]! * inv) * weight[i]!;
  }
}

function layernorm(
  out: Float32Array,
  x: Float32Array,
  weight: Float32Array,
  bias: Float32Array | null,
  rows: number,
  dim: number,
  eps: number,
): void {
  expectEps(eps);
  rowArgs(out, x, rows, dim);
  expectArray('weight', weight, Float32Array);
  expectLength('weight', weight, dim, '[dim]');
  if (bias !== null && bias !== undefined) {
    expectArray('bias', bias, Float32Array);
    expectLength('bias', bias, dim, '[dim]');
  }
  for (let r = 0; r < rows; r++) {
    const o = r * dim;
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += x[o + i]!;
    const mean = sum / dim;
    let v = 0;
    for (let i = 0; i < dim; i++) v += (x[o + i]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let i = 0; i < dim; i++) out[o + i] = (x[o + i]! - mean) * inv * weight[i]! + (bias ? bias[i]! : 0);
  }
}

function softmax(out: Float32Array, x: Float32Array, rows: number, cols: number, temperature = 1): void {
  if (typeof temperature !== 'number') throw new TypeError('tensorloom: temperature must be a number');
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError('tensorloom: temperature must be a finite number > 0');
  }
  rowArgs(out, x, rows, cols, 'cols');
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let i = 0; i < cols; i++) if (x[o + i]! > mx) mx = x[o + i]!;
    let sum = 0;
    for (let i = 0; i < cols; i++) {
      const e = Math.exp((x[o + i]! - mx) / temperature);
      out[o + i] = e;
      sum += e;
    }
    for (let i = 0; i < cols; i++) out[o + i] = out[o + i]! / sum;
  }
}

function unaryArgs(out: unknown, x: unknown, xName = 'x'): void {
  expectArray(xName, x, Float32Array);
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, (x as Float32Array).length, `[${(x as Float32Array).length}] like ${xName}`);
}

function binaryArgs(out: unknown, a: unknown, b: unknown, aName: string, bName: string): void {
  expectArray(aName, a, Float32Array);
  const n = (a as Float32Array).length;
  expectArray(bName, b, Float32Array);
  expectLength(bName, b as Float32Array, n, `[${n}] like ${aName}`);
  expectArray('out', out, Float32Array);
  expectLength('out', out as Float32Array, n, `[${n}] like ${aName}`);
}

/**
 * erfc(z) for z >= 0: Numerical Recipes' Chebyshev fit, relative error < 1.2e-7 everywhere
 * (JavaScript has no Math.erf).
 */
export function erfcPos(z: number): number {
  const t = 1 / (1 + 0.5 * z);
  const p =
    -1.26551223 +
    t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return t * Math.exp(-z * z + p);
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function gelu(out: Float32Array, x: Float32Array, approximation: GeluApproximation = 'tanh'): void {
  if (typeof approximation !== 'string') throw new TypeError("tensorloom: approximation must be 'tanh' or 'erf'");
  if (approximation !== 'tanh' && approximation !== 'erf') {
    throw new RangeError(`tensorloom: approximation must be 'tanh' or 'erf', got '${String(approximation)}'`);
  }
  unaryArgs(out, x);
  if (approximation === 'tanh') {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      out[i] = 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
    }
  } else {
    for (let i = 0; i < x.length; i++) {
      const v = x[i]!;
      const e = erfcPos(Math.abs(v) * Math.SQRT1_2); // erfc(|z|)
      out[i] = 0.5 * v * (v < 0 ? e : 2 - e);
    }
  }
}

function silu(out: Float32Array, x: Float32Array): void {
  unaryArgs(out, x);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! / (1 + Math.exp(-x[i]!));
}

function relu(out: Float32Array, x: Float32Array): void {
  unaryArgs(out, x);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    out[i] = v > 0 ? v : 0;
  }
}

function swiglu(out: Float32Array, gate: Float32Array, up: Float32Array): void {
  binaryArgs(out, gate, up, 'gate', 'up');
  for (let i = 0; i < gate.length; i++) {
    const g = gate[i]!;
    out[i] = (g / (1 + Math.exp(-g))) * up[i]!;
  }
}

function add(out: Float32Array, a: Float32Array, b: Float32Array): void {
  binaryArgs(out, a, b, 'a', 'b');
  for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
}

function mul(out: Float32Array, a: Float32Array, b: Float32Array): void {
  binaryArgs(out, a, b, 'a', 'b');
  for (let i = 0; i < a.length; i++) out[i] = a[i]! * b[i]!;
}

function embedding(out: Float32Array, table: Weights, ids: Int32Array | Uint32Array): void {
  if (typeof table !== 'object' || table === null) throw new TypeError('tensorloom: table must be a Weights object');
  const type = weightType(table.dtype, 'table.dtype');
  const rows = expectDim('table.rows', table.rows);
  const cols = expectDim('table.cols', table.cols);
  const shape = `[rows=${rows}, cols=${cols}]`;
  if (cols % type.blockSize !== 0) {
    throw new RangeError(`tensorloom: table.cols must be a multiple of ${type.blockSize} for ${type.name}, got ${cols}`);
  }
  const what = `table.data (${type.name})`; // named as the native binding names it
  expectArray(what, table.data, storageArray(type));
  expectLength(what, table.data, dataLength(type, rows, cols), type.storage === 'blocks'
    ? `${shape} as ${type.name} blocks of ${type.blockBytes} bytes` : shape);
  if (!(ids instanceof Int32Array) && !(ids instanceof Uint32Array)) {
    const got = ArrayBuffer.isView(ids) ? (ids as ArrayBufferView).constructor.name : typeof ids;
    throw new TypeError(`tensorloom: ids must be an Int32Array or a Uint32Array, got ${got}`);
  }
  expectArray('ids', ids, ids.constructor as typeof Int32Array);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= rows) throw new RangeError(`tensorloom: ids[${i}] = ${id} is out of range [0, ${rows})`);
  }
  expectArray('out', out, Float32Array);
  expectLength('out', out, ids.length * cols, `[ids.length=${ids.length}, table.cols=${cols}]`);
  for (let i = 0; i < ids.length; i++) dequantizeRow(table, ids[i]!, out, i * cols);
}

function argmax(x: Float32Array): number {
  expectArray('x', x, Float32Array);
  if (x.length === 0) throw new RangeError('tensorloom: x must have at least one element');
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i]! > bv) {
      bv = x[i]!;
      best = i;
    }
  }
  return best;
}

export const jsElementwise: ElementwiseOps = { rmsnorm, layernorm, softmax, gelu, silu, relu, swiglu, add, mul, embedding, argmax };
