/**
 * The worker must start from every way the package is loaded: the compiled ESM (dist/esm), the
 * CommonJS bundle (dist/cjs/index.cjs + generate-worker.cjs) — each in a plain `node` child
 * process — while the other tests cover the TypeScript sources under vitest. The dist is
 * (re)built first when it is missing or older than any file under ts/ (npm run build:ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/model.js';
import { haveStories, nativeAvailable, repoRoot, stories, storiesMissing } from '../models/helpers.js';

const run = promisify(execFile);

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

function distIsCurrent(): boolean {
  const files = [join(repoRoot, 'dist', 'esm', 'generate', 'worker.js'), join(repoRoot, 'dist', 'cjs', 'generate-worker.cjs')];
  if (!files.every(existsSync)) return false;
  return Math.min(...files.map((f) => statSync(f).mtimeMs)) >= newestMtime(join(repoRoot, 'ts'));
}
const backend = nativeAvailable() ? 'native' : 'js';

const script = (importLine: string) => `
${importLine}
const m = await loadModel(${JSON.stringify(stories.bin)}, { backend: ${JSON.stringify(backend)}, threads: 1 });
const r = await m.generate('', { temperature: 0, maxTokens: 20 });
let streamed = '';
for await (const c of m.stream('', { temperature: 0, maxTokens: 20 })) streamed += c;
await m.dispose();
console.log(JSON.stringify({ tokens: r.tokens, same: streamed === r.text }));
`;

describe.skipIf(!haveStories)(`the worker from the built package ${haveStories ? '' : storiesMissing}`, () => {
  let expected: number[] = [];
  beforeAll(async () => {
    if (!distIsCurrent()) {
      execFileSync(process.execPath, ['scripts/build-ts.mjs'], { cwd: repoRoot, stdio: 'pipe' });
    }
    const m = await loadModel(stories.bin, { backend, worker: false });
    expected = (await m.generate('', { temperature: 0, maxTokens: 20 })).tokens;
    await m.dispose();
  }, 300_000);

  it('ESM: import { loadModel } from dist/esm/index.js', async () => {
    const code = script(`import { loadModel } from ${JSON.stringify(join(repoRoot, 'dist', 'esm', 'index.js'))};`);
    const r = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, timeout: 60_000 });
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ tokens: expected, same: true });
  });

  it('every bundle is Latin-1 text, so that V8 keeps its source at one byte a character in each thread', () => {
    const esm = join(repoRoot, 'dist', 'esm');
    const cjs = join(repoRoot, 'dist', 'cjs');
    const files = [
      join(esm, 'index.js'), join(esm, 'generate', 'worker.js'), join(esm, 'server', 'worker.js'),
      ...readdirSync(join(esm, 'chunks')).filter((f) => f.endsWith('.js')).map((f) => join(esm, 'chunks', f)),
      ...readdirSync(cjs).filter((f) => f.endsWith('.cjs')).map((f) => join(cjs, f)),
    ];
    expect(files.length).toBeGreaterThan(4);
    for (const f of files) {
      const wide = readFileSync(f, 'utf8').match(/[^\u0000-\u00ff]/gu);
      expect(wide, f).toBeNull();
    }
  });

  it('CJS: require(dist/cjs/index.cjs) starts dist/cjs/generate-worker.cjs', async () => {
    const code = `(async () => { ${script(`const { loadModel } = require(${JSON.stringify(join(repoRoot, 'dist', 'cjs', 'index.cjs'))});`)} })().catch((e) => { console.error(e); process.exit(1); });`;
    const r = await run(process.execPath, ['-e', code], { cwd: repoRoot, timeout: 60_000 });
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ tokens: expected, same: true });
  });
});
