// Placeholder: the owner of this kernel family replaces it with the plain-loop reference.
import type { MatmulOps } from '../types.js';

const todo = (): never => {
  throw new Error('tensorloom: js matmul ops are not implemented yet');
};

export const jsMatmul: MatmulOps = new Proxy({} as MatmulOps, { get: () => todo });
