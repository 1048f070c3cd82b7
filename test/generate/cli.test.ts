/**
 * `tensorloom generate` as a user runs it (a child process on the TypeScript sources through
 * tsx): --json output checked against the in-thread engine on the same model, streaming text,
 * --echo, and usage errors for bad flags.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/model.js';
import { haveStories, nativeAvailable, repoRoot, stories, STORIES_OPENING, storiesMissing } from '../models/helpers.js';

const run = promisify(execFile);
const cli = join(repoRoot, 'ts', 'cli.ts');
const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const backend = nativeAvailable() ? 'native' : 'js';

async function tl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [tsx, cli, 'generate', ...args], { cwd: repoRoot, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('tensorloom generate: usage errors', () => {
  it('a --model without a value, unknown flags and bad values exit 2 with the usage text', async () => {
    for (const args of [['--model'], ['--model', 'x', '--bogus'], ['--model', 'x', '--max-tokens', 'ten'], ['--model', 'x', '--top-p', '1.5'], ['--model', 'x', '--temperature', '-1']]) {
      const r = await tl(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/usage: tensorloom generate/);
    }
  });

  it('--help prints the usage and exits 0', async () => {
    const r = await tl(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--max-tokens/);
  });
});

describe.skipIf(!haveStories)(`tensorloom generate on stories260K ${haveStories ? '' : storiesMissing}`, () => {
  it('--json prints one object whose tokens equal the library\'s greedy run from BOS', async () => {
    const r = await tl(['--model', stories.bin, '--temperature', '0', '--max-tokens', '30', '--json', '--backend', backend, '--threads', '1']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; tokens: number[]; promptTokens: number[]; finishReason: string; timings: Record<string, number> };
    const m = await loadModel(stories.bin, { backend, worker: false });
    try {
      const ref = await m.generate('', { temperature: 0, maxTokens: 30 });
      expect(out.tokens).toEqual(ref.tokens);
      expect(out.text).toBe(ref.text);
    } finally {
      await m.dispose();
    }
    expect(out.promptTokens).toEqual([1]);
    expect(out.finishReason).toBe('length');
    expect(out.timings.decodeTokensPerSecond).toBeGreaterThan(0);
  });

  it('streams the continuation to stdout; --echo prints the prompt first', async () => {
    const r = await tl(['--model', stories.bin, '--tokenizer', stories.tok, '--temperature', '0', '--max-tokens', '40', '--backend', backend]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.startsWith(STORIES_OPENING.slice(0, 50))).toBe(true);
    const e = await tl(['--model', stories.bin, '--prompt', 'Once upon a time', '--echo', '--temperature', '0', '--max-tokens', '5', '--backend', backend]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout.startsWith('Once upon a time')).toBe(true);
  });

  it('a missing model file is a clear error with exit code 1', async () => {
    const r = await tl(['--model', '/nonexistent.gguf']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not exist/);
  });
});
