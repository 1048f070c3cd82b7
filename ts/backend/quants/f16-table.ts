/**
 * Block scales are stored as IEEE binary16; decoding them through a 64K-entry table is exact and
 * much faster than bit manipulation per block. Built on first use.
 */
import { f16ToF32Bits } from '../js/conversions.js';

let table: Float32Array | null = null;

/** f32 value of every f16 bit pattern. */
export function f16Table(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    const bits = new Uint32Array(table.buffer);
    for (let h = 0; h < 65536; h++) bits[h] = f16ToF32Bits(h);
  }
  return table;
}

/** The f16 at byte offset p of x (little-endian) as a number. */
export function readF16(x: Uint8Array, p: number): number {
  return f16Table()[x[p]! | (x[p + 1]! << 8)]!;
}
