import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed package's root folder (where package.json, prebuilds/ and build/ live).
 * Found by walking up from this file, so it works from `ts/` (tests), `dist/esm/` and the CJS bundle.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'tensorloom') return dir;
      } catch {
        // unreadable package.json: keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('tensorloom: cannot find the package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}
