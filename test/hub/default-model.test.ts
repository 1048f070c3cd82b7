/**
 * The built-in default model (models/stories260K.gguf): the committed file is exactly what
 * scripts/make-default-model.mjs writes with our convert, llama.cpp reads it and decodes it as we
 * do (default-model-oracle.test.ts), and loadModel() / `tensorloom generate` use it when no model is named.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/model.js';
import { defaultModelPath } from '../../ts/hub/default-model.js';
import { haveStories, repoRoot, STORIES_OPENING, storiesMissing } from '../models/helpers.js';
import { startServe } from '../server/helpers.js';

const run = promisify(execFile);
const committed = join(repoRoot, 'models', 'stories260K.gguf');

describe('the built-in default model', () => {
  it('ships in the package (package.json files has models/) and is the path loadModel() uses', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('models/');
    expect(defaultModelPath()).toBe(committed);
    expect(readFileSync(committed).subarray(0, 4).toString('latin1')).toBe('GGUF');
  });

  it.skipIf(!haveStories)(`the committed file equals scripts/make-default-model.mjs's output (our convert, f16) ${haveStories ? '' : storiesMissing}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-default-'));
    try {
      const out = join(dir, 'stories260K.gguf');
      await run(process.execPath, [join(repoRoot, 'scripts', 'make-default-model.mjs'), out], { cwd: repoRoot, timeout: 60_000 });
      expect(readFileSync(out).equals(readFileSync(committed))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('loadModel() with no path loads it, and greedy decoding from BOS tells llama2.c\'s story', async () => {
    const model = await loadModel();
    try {
      expect(model.info.path).toBe(committed);
      expect(model.info.config.vocabSize).toBe(512);
      const r = await model.generate('', { maxTokens: 40, temperature: 0 });
      expect(r.text.startsWith(STORIES_OPENING.slice(0, 80))).toBe(true);
    } finally {
      await model.dispose();
    }
  });

  it('`tensorloom generate` without --model says so in one stderr line and continues the prompt', async () => {
    const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const r = await run(process.execPath, [tsx, join(repoRoot, 'ts', 'cli.ts'), 'generate', '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0'], { cwd: repoRoot, timeout: 60_000 });
    expect(r.stdout.startsWith(', there was a little girl named Lily.')).toBe(true);
    const notices = r.stderr.split('\n').filter((l) => l.includes('stories260K'));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/^tensorloom: no --model given: using the built-in stories260K/);
  });

  it('`tensorloom serve` without --model serves it (one stderr notice) over the OpenAI API', async () => {
    const cli = startServe(['--port', '0', '--parallel', '1']);
    try {
      const base = await cli.base;
      const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: Array<{ id: string }> };
      expect(models.data.map((m) => m.id)).toEqual(['stories260K']);
      const r = (await (await fetch(`${base}/v1/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'Once upon a time', max_tokens: 10, temperature: 0 }) })).json()) as { choices: Array<{ text: string }> };
      expect(r.choices[0]!.text).toBe(', there was a little girl named Lily');
      expect(cli.stderr().split('\n').filter((l) => l.startsWith('tensorloom: no --model given: using the built-in stories260K'))).toHaveLength(1);
    } finally {
      cli.child.kill('SIGTERM');
    }
  });
});
