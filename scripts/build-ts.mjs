#!/usr/bin/env node
// Builds the TypeScript sources: ESM + .d.ts with tsc (dist/esm), and a CommonJS bundle of the
// same code with esbuild (dist/cjs/index.cjs), where `import.meta.url` is shimmed from __filename.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync, mkdirSync, existsSync, readdirSync, readFileSync, chmodSync, cpSync, statSync } from 'node:fs';
import { build } from 'esbuild';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'], { stdio: 'inherit' });
writeFileSync('dist/esm/package.json', JSON.stringify({ type: 'module' }) + '\n');

// The package entry and the two worker entries bundled over tsc's output (the rest of tsc's files
// stay: the CLI loads its commands from them, the .d.ts describe them), their shared code split into
// dist/esm/chunks/ so that a custom server engine module importing 'tensorloom' in the server
// worker gets the same classes (errors cross the worker boundary by prototype) as the worker.
// Node's ESM loader holds ~60 KB per module: importing tsc's 206 files cost 19 MB of RSS, the
// bundle 7 MB, on the main thread and again in each model worker (ts/bundle-root.ts).
const esmBuild = await build({
  entryPoints: { index: 'ts/index.ts', 'generate/worker': 'ts/generate/worker.ts', 'server/worker': 'ts/server/worker.ts' },
  outdir: 'dist/esm',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  define: { __TL_ESM_BUNDLE__: 'true' },
  charset: 'ascii',
  metafile: true,
  logLevel: 'warning',
});

// Entry points that other threads load by path (workers) are bundled separately for CJS.
const entries = { index: 'ts/index.ts' };
for (const extra of ['ts/generate/worker.ts', 'ts/server/worker.ts']) if (existsSync(extra)) entries[extra.replace(/^ts\/|\.ts$/g, '').replace(/\//g, '-')] = extra;
mkdirSync('dist/cjs', { recursive: true });
const cjsBuild = await build({
  entryPoints: entries,
  outdir: 'dist/cjs',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta.url': '__tl_import_meta_url' },
  banner: { js: "const __tl_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  charset: 'ascii',
  metafile: true,
  logLevel: 'warning',
});

// V8 keeps a script's source as one byte per character only when every character is Latin-1, and
// each thread that loads the bundle keeps its own copy: 30 arrows and Greek letters in the
// comments esbuild keeps (charset 'ascii' escapes everything else) made the shared chunk's 0.57 MB
// source take 1.14 MB in the main thread and again in every model worker. Those characters become
// \u{…} text (still inside the comments; no line moves, so the source maps hold). Only esbuild's
// outputs (its metafiles list them): tsc's files keep such characters in code too (a regex literal).
const bundles = [esmBuild, cjsBuild].flatMap((r) => Object.keys(r.metafile.outputs)).filter((f) => /\.c?js$/.test(f));
for (const f of bundles) {
  const text = readFileSync(f, 'utf8');
  const latin1 = text.replace(/[^\u0000-\u00ff]/gu, (c) => `\\u{${c.codePointAt(0).toString(16)}}`);
  if (latin1 !== text) writeFileSync(f, latin1);
}
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// The same declarations beside the CJS bundle: under dist/cjs (type: commonjs) TypeScript reads them
// as CommonJS, which `require('tensorloom')` is (exports["."].require.types points here).
cpSync('dist/esm', 'dist/cjs', { recursive: true, filter: (src) => statSync(src).isDirectory() || src.endsWith('.d.ts') });
if (existsSync('dist/esm/cli.js')) chmodSync('dist/esm/cli.js', 0o755);
console.log('built dist/esm (', readdirSync('dist/esm').length, 'entries ) and dist/cjs');
