/**
 * The download cache as users reach it: loadModel('hf:…') with onProgress, and the CLI's pull /
 * ls / rm / generate --model hf:… (child processes through tsx, HF_ENDPOINT and TENSORLOOM_CACHE
 * pointing at a loopback fake hub and a temporary folder). The model served is the committed
 * default model, so no file outside the repository is needed.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/model.js';
import { createServer } from '../../ts/server/http.js';
import { listCachedModels, removeCachedModel } from '../../ts/hub/cache-entries.js';
import { ModelFetchError } from '../../ts/hub/errors.js';
import { repoRoot } from '../models/helpers.js';
import { fakeGguf, startFakeHub, type FakeHub } from './fake-hub.js';

const run = promisify(execFile);
const stories = readFileSync(join(repoRoot, 'models', 'stories260K.gguf'));
let hub: FakeHub;
let cache: string;

beforeAll(async () => {
  hub = await startFakeHub({
    'karpathy/tinyllamas-GGUF': { files: { 'stories260K-F16.gguf': stories, 'other-Q8_0.gguf': fakeGguf('other', 1000) } },
    'acme/split-GGUF': { files: { 'm-Q4_0-00001-of-00002.gguf': fakeGguf('a', 2000), 'm-Q4_0-00002-of-00002.gguf': fakeGguf('b', 3000) } },
  });
  cache = mkdtempSync(join(tmpdir(), 'tl-cli-cache-'));
});
afterAll(async () => {
  await hub.close();
  rmSync(cache, { recursive: true, force: true });
});

async function tl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const tsx = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const env: NodeJS.ProcessEnv = { ...process.env, HF_ENDPOINT: hub.endpoint, TENSORLOOM_CACHE: cache };
  delete env.HF_TOKEN;
  try {
    const r = await run(process.execPath, [tsx, join(repoRoot, 'ts', 'cli.ts'), ...args], { cwd: repoRoot, env, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('loadModel with an hf: reference', () => {
  it('downloads into the cache with onProgress, then generates what the same file generates locally', async () => {
    const seen: number[] = [];
    const model = await loadModel('hf:karpathy/tinyllamas-GGUF:F16', { endpoint: hub.endpoint, cacheDir: cache, onProgress: (p) => void (p.phase === 'download' && seen.push(p.receivedBytes)), worker: false });
    const local = await loadModel(undefined, { worker: false });
    try {
      expect(model.info.path).toBe(join(cache, 'hf', 'karpathy', 'tinyllamas-GGUF', 'stories260K-F16.gguf'));
      expect(seen.at(-1)).toBe(stories.length);
      const a = await model.generate('Once upon a time', { maxTokens: 16, temperature: 0 });
      const b = await local.generate('Once upon a time', { maxTokens: 16, temperature: 0 });
      expect(a.tokens).toEqual(b.tokens);
    } finally {
      await model.dispose();
      await local.dispose();
    }
    // Cached: loading again makes no request, and the download options never reach the worker.
    hub.seen.length = 0;
    const again = await loadModel('hf:karpathy/tinyllamas-GGUF/stories260K-F16.gguf', { endpoint: hub.endpoint, cacheDir: cache, onProgress: () => undefined });
    await again.dispose();
    expect(hub.seen).toEqual([]);
  });

  it('createServer({ model: \'hf:…\' }) serves the cached download (HF_ENDPOINT / TENSORLOOM_CACHE from the environment)', async () => {
    const saved = { e: process.env.HF_ENDPOINT, c: process.env.TENSORLOOM_CACHE };
    process.env.HF_ENDPOINT = hub.endpoint;
    process.env.TENSORLOOM_CACHE = cache;
    try {
      const handler = await createServer({ model: 'hf:karpathy/tinyllamas-GGUF:F16', parallel: 1 });
      try {
        expect(handler.scheduler.info.id).toBe('stories260K-F16');
      } finally {
        await handler.close();
      }
    } finally {
      for (const [k, v] of [['HF_ENDPOINT', saved.e], ['TENSORLOOM_CACHE', saved.c]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('a bad reference is a ModelFetchError before anything is loaded', async () => {
    await expect(loadModel('hf:karpathy', { cacheDir: cache })).rejects.toBeInstanceOf(ModelFetchError);
    await expect(loadModel('hf:karpathy/tinyllamas-GGUF:Q3_K_S', { endpoint: hub.endpoint, cacheDir: cache })).rejects.toThrow(/no GGUF file for quant Q3_K_S/);
  });
});

describe('tensorloom pull / ls / rm / generate --model hf:…', () => {
  it('pull prints the cached path; ls lists models and shard sets; rm removes them', async () => {
    const pulled = await tl('pull', 'hf:acme/split-GGUF:Q4_0');
    expect(pulled.code).toBe(0);
    expect(pulled.stdout.trim()).toBe(join(cache, 'hf', 'acme', 'split-GGUF', 'm-Q4_0-00001-of-00002.gguf'));
    expect(pulled.stderr).toMatch(/downloading m-Q4_0-00001-of-00002\.gguf \(1\/2\)[\s\S]*downloading m-Q4_0-00002-of-00002\.gguf \(2\/2\)/);
    expect(existsSync(join(cache, 'hf', 'acme', 'split-GGUF', 'm-Q4_0-00002-of-00002.gguf'))).toBe(true);

    const ls = await tl('ls');
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^hf:acme\/split-GGUF\/m-Q4_0-00001-of-00002\.gguf\s+0\.0 MB\s+\(2\/2 shards\)$/m);
    expect(listCachedModels(cache).find((m) => m.ref.startsWith('hf:acme/split'))).toMatchObject({ bytes: 5000, files: 2, fileCount: 2, partial: false });

    const rm = await tl('rm', 'hf:acme/split-GGUF/m-Q4_0-00001-of-00002.gguf');
    expect(rm.code).toBe(0);
    expect(rm.stderr).toMatch(/removed hf:acme\/split-GGUF\/m-Q4_0-00001-of-00002\.gguf \(2 files\)/);
    expect(existsSync(join(cache, 'hf', 'acme'))).toBe(false); // emptied folders are pruned
    expect(() => removeCachedModel('hf:acme/split-GGUF:Q4_0', cache)).toThrow(/hf:acme\/split-GGUF:Q4_0 is not in the cache/);
  });

  it('pull: usage errors exit 2, a missing file exits 1 naming the repo, the file and its GGUF files', async () => {
    const [bad, missing] = await Promise.all([tl('pull', 'hf:owner'), tl('pull', 'hf:karpathy/tinyllamas-GGUF/nope.gguf')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/'hf:owner' is missing the repo name/);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/karpathy\/tinyllamas-GGUF has no file nope\.gguf \(HTTP 404\); GGUF files in karpathy\/tinyllamas-GGUF:\n {2}other-Q8_0\.gguf\n {2}stories260K-F16\.gguf/);
  });

  it('generate --model hf:… downloads once and generates; a cached model works with the hub gone', async () => {
    const r = await tl('generate', '--model', 'hf:karpathy/tinyllamas-GGUF/stories260K-F16.gguf', '--prompt', 'Once upon a time', '--max-tokens', '12', '--temperature', '0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout, r.stderr).toMatch(/^, there was a little girl named Lily/);
    const offline = await run(process.execPath, [join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(repoRoot, 'ts', 'cli.ts'), 'pull', 'hf:karpathy/tinyllamas-GGUF:F16'], {
      cwd: repoRoot,
      env: { ...process.env, HF_ENDPOINT: 'http://127.0.0.1:9', TENSORLOOM_CACHE: cache },
    });
    expect(offline.stdout.trim()).toBe(join(cache, 'hf', 'karpathy', 'tinyllamas-GGUF', 'stories260K-F16.gguf'));
    expect(removeCachedModel('hf:karpathy/tinyllamas-GGUF', cache).length).toBe(1);
  });
});
