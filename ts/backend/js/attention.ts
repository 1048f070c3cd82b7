// Placeholder: the owner of this kernel family replaces it with the plain-loop reference.
import type { AttentionOps } from '../types.js';

const todo = (): never => {
  throw new Error('tensorloom: js attention ops are not implemented yet');
};

export const jsAttention: AttentionOps = new Proxy({} as AttentionOps, { get: () => todo });
