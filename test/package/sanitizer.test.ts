// Runs only inside scripts/sanitize.sh (TENSORLOOM_SANITIZED=1): proves that vitest's forked
// workers inherited the environment and loaded the sanitizer build, not the regular addon —
// otherwise the sanitizer run would pass without checking anything.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { backendInfo } from '../../ts/index.js';

describe.skipIf(process.env.TENSORLOOM_SANITIZED !== '1')('sanitizer run (only under scripts/sanitize.sh)', () => {
  it('loads the addon named by TENSORLOOM_ADDON', () => {
    expect(process.env.TENSORLOOM_ADDON).toBeTruthy();
    expect(backendInfo('native').addonPath).toBe(process.env.TENSORLOOM_ADDON);
  });

  it('runs with the ASan and UBSan runtimes mapped into this worker', () => {
    backendInfo('native'); // the addon (which links libubsan) is loaded
    const maps = readFileSync('/proc/self/maps', 'utf8');
    expect(maps).toMatch(/libasan\.so/);
    expect(maps).toMatch(/libubsan\.so/);
  });
});
