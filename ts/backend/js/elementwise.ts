// Placeholder: the owner of this kernel family replaces it with the plain-loop reference.
import type { ElementwiseOps } from '../types.js';

const todo = (): never => {
  throw new Error('tensorloom: js elementwise ops are not implemented yet');
};

export const jsElementwise: ElementwiseOps = new Proxy({} as ElementwiseOps, { get: () => todo });
