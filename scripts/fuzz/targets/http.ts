import type { FuzzTarget } from '../target.js';
export const http: FuzzTarget<null> = { name: 'http', about: 'todo', unavailable: () => 'not yet', setup: () => null, run() {} };
