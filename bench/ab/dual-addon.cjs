// An addon that forwards every call to one of two builds, for A/B timing in ONE process:
//   AB_A=/path/a.node AB_B=/path/b.node TENSORLOOM_ADDON=bench/ab/dual-addon.cjs npx tsx bench/ab/encode-ab.ts …
// globalThis.__tlAbUseB (set by the runner between timed calls) picks B, else A. Thread-count
// calls go to both builds (each has its own pool; the idle one's workers sleep). Only for pure
// compute calls on typed arrays: an object made by one build must not be handed to the other.
// Why: on the shared 2-core machine, separate processes for A and B see load that differs by
// ±20 % from one to the next; alternating builds call by call in one process cancels most of it.
'use strict';
const A = require(process.env.AB_A);
const B = require(process.env.AB_B);
module.exports = new Proxy(A, {
  get(target, prop) {
    const a = target[prop];
    if (typeof a !== 'function') return a;
    if (/thread/i.test(String(prop))) {
      return (...args) => {
        B[prop](...args);
        return a(...args);
      };
    }
    return (...args) => (globalThis.__tlAbUseB ? B : A)[prop](...args);
  },
});
