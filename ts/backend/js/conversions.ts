// Placeholder: the owner of this kernel family replaces it with the plain-loop reference.
import type { ConversionOps } from '../types.js';

const todo = (): never => {
  throw new Error('tensorloom: js conversions ops are not implemented yet');
};

export const jsConversions: ConversionOps = new Proxy({} as ConversionOps, { get: () => todo });
