#!/usr/bin/env node
// node scripts/make-default-model.mjs [OUT.gguf] — regenerates the built-in default model,
// models/stories260K.gguf: llama2.c's MIT-licensed TinyStories model stories260K (Andrej Karpathy),
// converted to an f16 GGUF by tensorloom's own `convert`, with its tokenizer tok512.bin embedded.
// Inputs come from ../shared/models/stories260K/ (stories260K.bin, tok512.bin). The conversion is
// deterministic, so the output is byte-identical on every run (test/hub/default-model.test.ts checks
// that the committed file equals this script's output).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = [join(repo, '..', 'shared'), join(repo, '..', '..', 'shared')].find((p) => existsSync(p));
const src = shared && join(shared, 'models', 'stories260K');
if (!src || !existsSync(join(src, 'stories260K.bin')) || !existsSync(join(src, 'tok512.bin'))) {
  console.error('make-default-model: needs ../shared/models/stories260K/stories260K.bin and tok512.bin beside the checkout');
  process.exit(1);
}
const out = resolve(process.argv[2] ?? join(repo, 'models', 'stories260K.gguf'));
const tsx = join(repo, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const args = [tsx, join(repo, 'ts', 'cli.ts'), 'convert', join(src, 'stories260K.bin'), out,
  '--type', 'f16', '--tokenizer', join(src, 'tok512.bin'), '--name', 'stories260K', '--force', '--quiet'];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
console.error(`make-default-model: wrote ${out}`);
