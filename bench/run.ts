/**
 * npm run bench [-- name ...]   runs bench/<name>.bench.ts (all of them when no name is given).
 * Each bench module exports `run(args: string[]): Promise<void>`: it prints tables and writes
 * bench/results/<name>.json.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const all = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).map((f) => f.replace(/\.bench\.ts$/, '')).sort();
const args = process.argv.slice(2);
const names = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const chosen = names.length ? names : all;

for (const name of chosen) {
  if (!all.includes(name)) {
    console.error(`unknown bench '${name}'; available: ${all.join(', ')}`);
    process.exit(2);
  }
  const mod = (await import(pathToFileURL(`${here}/${name}.bench.ts`).href)) as { run(args: string[]): Promise<void> };
  console.log(`\n=== bench: ${name}`);
  await mod.run(flags);
}
