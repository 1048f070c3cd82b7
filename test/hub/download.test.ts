/**
 * resolveModelFile against a loopback fake of the hub (test/hub/fake-hub.ts): what is downloaded,
 * what goes over the wire, and what is left in the cache when things go wrong.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { filesUnder } from '../../ts/hub/cache-layout.js';
import { ModelFetchError } from '../../ts/hub/errors.js';
import { resolveModelFile, type DownloadProgress, type ResolveModelOptions } from '../../ts/hub/resolve-model.js';
import { fakeGguf, sha256, startFakeHub, TOKEN, type FakeHub } from './fake-hub.js';

const small = fakeGguf('small', 300_000);
const q4 = fakeGguf('q4', 150_000);
const q8 = fakeGguf('q8', 250_000);
const shards = [1, 2, 3].map((i) => fakeGguf(`shard${i}`, 100_000 + i));
const shardName = (i: number): string => `big/Big-Q8_0-0000${i}-of-00003.gguf`;

let hub: FakeHub;
let cache: string;
const errOf = async (p: Promise<unknown>): Promise<ModelFetchError> => {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ModelFetchError);
    return e as ModelFetchError;
  }
  throw new Error('expected an error');
};
const opts = (extra: ResolveModelOptions = {}): ResolveModelOptions => ({ endpoint: hub.endpoint, cacheDir: cache, ...extra });
/** Every file in the cache (so a test can say nothing half-written is left). */
const cached = (): string[] => filesUnder(cache);

beforeAll(async () => {
  hub = await startFakeHub({
    'acme/tiny-GGUF': { files: { 'README.md': Buffer.from('# tiny'), 'tiny-Q4_K_M.gguf': q4, 'tiny-Q8_0.gguf': q8, 'small.gguf': small } },
    'acme/split-GGUF': { files: Object.fromEntries(shards.map((b, i) => [shardName(i + 1), b])) },
    'acme/safetensors-only': { files: { 'config.json': Buffer.from('{}'), 'model.safetensors': Buffer.from('x') } },
    'acme/gated-GGUF': { gated: true, files: { 'g.gguf': fakeGguf('gated', 50_000) } },
    'acme/corrupt-GGUF': { wrongSha: true, files: { 'c.gguf': fakeGguf('corrupt', 50_000) } },
  });
});
afterAll(async () => {
  await hub.close();
});
afterEach(() => {
  hub.seen.length = 0;
  rmSync(cache, { recursive: true, force: true });
});
const fresh = (): void => {
  cache = mkdtempSync(join(tmpdir(), 'tl-cache-'));
};

describe('resolveModelFile (loopback hub via the endpoint option / HF_ENDPOINT)', () => {
  it('downloads a named file through the hub\'s redirect, verifies it, and then serves it from the cache without any request', async () => {
    fresh();
    const progress: DownloadProgress[] = [];
    const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts({ onProgress: (p) => progress.push({ ...p }) }));
    expect(path).toBe(join(cache, 'hf', 'acme', 'tiny-GGUF', 'small.gguf'));
    expect(sha256(readFileSync(path))).toBe(sha256(small));
    expect(cached()).toEqual(['hf/acme/tiny-GGUF/small.gguf']);
    expect(hub.seen.map((s) => `${s.server} ${s.path}`)).toEqual(['hub /acme/tiny-GGUF/resolve/main/small.gguf', `cdn /lfs/${sha256(small)}`]);
    expect(progress.at(-1)).toEqual({ file: 'small.gguf', fileIndex: 0, fileCount: 1, receivedBytes: small.length, totalBytes: small.length });
    // Cached: no network at all, even with the hub unreachable.
    hub.seen.length = 0;
    expect(await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts({ endpoint: 'http://127.0.0.1:9' }))).toBe(path);
    expect(await resolveModelFile('hf:acme/tiny-GGUF:Q4_K_M', opts({ offline: true })).catch((e: Error) => e.message)).toMatch(/not in the cache/);
    expect(hub.seen).toEqual([]);
  });

  it('HF_ENDPOINT picks the hub when no endpoint option is given', async () => {
    fresh();
    const before = process.env.HF_ENDPOINT;
    process.env.HF_ENDPOINT = hub.endpoint + '/';
    try {
      const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', { cacheDir: cache });
      expect(readFileSync(path).equals(small)).toBe(true);
    } finally {
      if (before === undefined) delete process.env.HF_ENDPOINT;
      else process.env.HF_ENDPOINT = before;
    }
  });

  it('hf:owner/repo:QUANT picks the file from the repo listing; a quant it lacks lists what it has', async () => {
    fresh();
    const amb = await errOf(resolveModelFile('hf:acme/tiny-GGUF', opts()));
    expect(amb.code).toBe('AMBIGUOUS');
    expect(amb.message).toMatch(/acme\/tiny-GGUF has 3 GGUF files; name one as hf:acme\/tiny-GGUF\/FILE\.gguf or hf:acme\/tiny-GGUF:QUANT/);
    const path = await resolveModelFile('hf:acme/tiny-GGUF:q8_0', opts());
    expect(path.endsWith('tiny-Q8_0.gguf')).toBe(true);
    expect(readFileSync(path).equals(q8)).toBe(true);
    expect(hub.seen[0]?.path).toBe('/api/models/acme/tiny-GGUF');
    // Cached now: the quant is found in the cache, no listing request.
    hub.seen.length = 0;
    expect(await resolveModelFile('hf:acme/tiny-GGUF:Q8_0', opts())).toBe(path);
    expect(hub.seen).toEqual([]);
    const e = await errOf(resolveModelFile('hf:acme/tiny-GGUF:Q5_K_S', opts()));
    expect(e.code).toBe('NO_GGUF');
    expect(e.message).toMatch(/acme\/tiny-GGUF has no GGUF file for quant Q5_K_S/);
    expect(e.message).toMatch(/tiny-Q4_K_M\.gguf[\s\S]*quants: /);
  });

  it('a repo with no GGUF, a missing file and a missing repo are errors that name them and list the GGUF files', async () => {
    fresh();
    const none = await errOf(resolveModelFile('hf:acme/safetensors-only:Q4_K_M', opts()));
    expect(none.code).toBe('NO_GGUF');
    expect(none.message).toMatch(/acme\/safetensors-only has no GGUF files \(it has config\.json, model\.safetensors\)/);
    const missing = await errOf(resolveModelFile('hf:acme/tiny-GGUF/tiny-Q2_K.gguf', opts()));
    expect(missing.code).toBe('NOT_FOUND');
    expect(missing.message).toMatch(/acme\/tiny-GGUF has no file tiny-Q2_K\.gguf \(HTTP 404\)/);
    expect(missing.message).toMatch(/small\.gguf[\s\S]*tiny-Q4_K_M\.gguf[\s\S]*tiny-Q8_0\.gguf/);
    const noRepo = await errOf(resolveModelFile('hf:acme/nope/x.gguf', opts()));
    expect(noRepo.code).toBe('NOT_FOUND');
    expect(noRepo.message).toMatch(/the repo acme\/nope does not exist/);
    expect(cached()).toEqual([]);
  });

  it('a gated repo: 401 says how to pass a token, a wrong token gets 403, HF_TOKEN / token works and never reaches the CDN', async () => {
    fresh();
    const before = process.env.HF_TOKEN;
    delete process.env.HF_TOKEN;
    try {
      const e = await errOf(resolveModelFile('hf:acme/gated-GGUF/g.gguf', opts()));
      expect(e.code).toBe('UNAUTHORIZED');
      expect(e.message).toMatch(/HTTP 401: it is gated or private: .*HF_TOKEN=hf_… \(or --token/);
      const wrong = await errOf(resolveModelFile('hf:acme/gated-GGUF/g.gguf', opts({ token: 'hf_wrong' })));
      expect(wrong.message).toMatch(/HTTP 403: the token given has no access/);
      expect(cached()).toEqual([]);
      hub.seen.length = 0;
      process.env.HF_TOKEN = TOKEN;
      const path = await resolveModelFile('hf:acme/gated-GGUF/g.gguf', opts());
      expect(existsSync(path)).toBe(true);
      expect(hub.seen.filter((s) => s.server === 'hub').every((s) => s.authorization === `Bearer ${TOKEN}`)).toBe(true);
      expect(hub.seen.filter((s) => s.server === 'cdn').map((s) => s.authorization)).toEqual([null]);
    } finally {
      if (before === undefined) delete process.env.HF_TOKEN;
      else process.env.HF_TOKEN = before;
    }
  });

  it('a connection cut mid-file is resumed with a Range request and the result verified', async () => {
    fresh();
    hub.cut('small.gguf', 2, 70_000);
    const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts());
    expect(sha256(readFileSync(path))).toBe(sha256(small));
    const cdn = hub.seen.filter((s) => s.server === 'cdn');
    expect(cdn.map((s) => s.range)).toEqual([null, 'bytes=70000-', 'bytes=140000-']);
    expect(cached()).toEqual(['hf/acme/tiny-GGUF/small.gguf']);
  });

  it('a server that stalls mid-file (no byte for idleTimeoutMs) is dropped and the download resumed', async () => {
    fresh();
    hub.stall('small.gguf', 1, 100_000);
    const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts({ idleTimeoutMs: 300 }));
    expect(readFileSync(path).equals(small)).toBe(true);
    expect(hub.seen.filter((s) => s.server === 'cdn').map((s) => s.range)).toEqual([null, 'bytes=100000-']);
  });

  it('two loads of the same model at once download it once', async () => {
    fresh();
    const [a, b] = await Promise.all([resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts()), resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts())]);
    expect(a).toBe(b);
    expect(readFileSync(a).equals(small)).toBe(true);
    expect(hub.seen.filter((s) => s.server === 'cdn')).toHaveLength(1);
    expect(cached()).toEqual(['hf/acme/tiny-GGUF/small.gguf']);
  });

  it('another live process\'s DEST.lock makes a download wait; a stale lock (dead pid) is taken over', async () => {
    fresh();
    const dir = join(cache, 'hf', 'acme', 'tiny-GGUF');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'small.gguf.lock'), String(process.ppid)); // the test runner: alive, not us
    const waiting = resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts({ signal: AbortSignal.timeout(800) }));
    await expect(waiting).rejects.toThrow();
    expect(hub.seen.filter((s) => s.server === 'cdn')).toHaveLength(0);
    writeFileSync(join(dir, 'small.gguf.lock'), '4194303'); // above Linux's pid_max: no such process
    const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts());
    expect(readFileSync(path).equals(small)).toBe(true);
    expect(cached()).toEqual(['hf/acme/tiny-GGUF/small.gguf']);
  });

  it('an unfinished .part from an earlier run is resumed, not downloaded again', async () => {
    fresh();
    const dir = join(cache, 'hf', 'acme', 'tiny-GGUF');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'small.gguf.part'), small.subarray(0, 123_456));
    const path = await resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts());
    expect(readFileSync(path).equals(small)).toBe(true);
    expect(hub.seen.filter((s) => s.server === 'cdn').map((s) => s.range)).toEqual(['bytes=123456-']);
  });

  it('gives up after repeated drops with no progress, keeping what arrived for the next run to resume', async () => {
    fresh();
    const dir = join(cache, 'hf', 'acme', 'tiny-GGUF');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tiny-Q4_K_M.gguf.part'), q4.subarray(0, 50_000));
    hub.cut('tiny-Q4_K_M.gguf', 100, 0);
    const e = await errOf(resolveModelFile('hf:acme/tiny-GGUF/tiny-Q4_K_M.gguf', opts({ retries: 3, retryDelayMs: 20 })));
    hub.cut('tiny-Q4_K_M.gguf', 0, 0);
    expect(e.code).toBe('NETWORK');
    expect(e.message).toMatch(/failed 4 times in a row .*0\.1 MB are kept in the cache, run again to resume/);
    expect(hub.seen.filter((s) => s.server === 'cdn').map((s) => s.range)).toEqual(Array(4).fill('bytes=50000-'));
    expect(existsSync(join(dir, 'tiny-Q4_K_M.gguf'))).toBe(false);
    hub.seen.length = 0;
    const path = await resolveModelFile('hf:acme/tiny-GGUF/tiny-Q4_K_M.gguf', opts());
    expect(readFileSync(path).equals(q4)).toBe(true);
    expect(hub.seen.filter((s) => s.server === 'cdn').map((s) => s.range)).toEqual(['bytes=50000-']);
  });

  it('a sha256 that differs from the hub\'s ETag removes the download', async () => {
    fresh();
    const e = await errOf(resolveModelFile('hf:acme/corrupt-GGUF/c.gguf', opts()));
    expect(e.code).toBe('VERIFY_FAILED');
    expect(e.message).toMatch(/sha256 [0-9a-f]{64} differs from the hub's [0-9a-f]{64}/);
    expect(cached()).toEqual([]);
  });

  it('split GGUFs are fetched together and named by the first shard', async () => {
    fresh();
    const progress = new Set<string>();
    const path = await resolveModelFile('hf:acme/split-GGUF:Q8_0', opts({ onProgress: (p) => progress.add(`${p.fileIndex + 1}/${p.fileCount} ${p.file}`) }));
    expect(path).toBe(join(cache, 'hf', 'acme', 'split-GGUF', shardName(1)));
    expect(cached()).toEqual([1, 2, 3].map((i) => `hf/acme/split-GGUF/${shardName(i)}`));
    shards.forEach((b, i) => expect(readFileSync(join(cache, 'hf', 'acme', 'split-GGUF', shardName(i + 1))).equals(b)).toBe(true));
    expect([...progress]).toEqual([1, 2, 3].map((i) => `${i}/3 ${shardName(i)}`));
    // Naming a later shard resolves the same model; one shard missing is fetched again.
    rmSync(join(cache, 'hf', 'acme', 'split-GGUF', shardName(2)));
    hub.seen.length = 0;
    expect(await resolveModelFile(`hf:acme/split-GGUF/${shardName(3)}`, opts())).toBe(path);
    expect(hub.seen.filter((s) => s.server === 'hub').map((s) => s.path)).toEqual([`/acme/split-GGUF/resolve/main/${shardName(2)}`]);
  });

  it('a URL that is not a GGUF fails on its first bytes, long before the whole file, leaving nothing', async () => {
    fresh();
    const page = Buffer.alloc(16 << 20, '<!DOCTYPE html><html>…</html>\n');
    hub.plainFiles.set('page.gguf', { body: page, slow: true });
    const e = await errOf(resolveModelFile(`${hub.plain}/page.gguf`, opts()));
    expect(e.code).toBe('NOT_GGUF');
    expect(e.message).toMatch(/is not a GGUF file \(it starts with "<!DO", not "GGUF"\)/);
    const f = hub.plainFiles.get('page.gguf')!;
    await new Promise((r) => setTimeout(r, 50));
    expect(f.finished).toBe(false);
    expect(f.sent!).toBeLessThan(page.length / 4);
    expect(cached()).toEqual([]);
  });

  it('plain URLs download into the cache, are remembered by URL, and resume', async () => {
    fresh();
    hub.plainFiles.set('m.gguf', { body: q4 });
    const url = `${hub.plain}/m.gguf`;
    const path = await resolveModelFile(url, opts());
    expect(readFileSync(path).equals(q4)).toBe(true);
    expect(readFileSync(`${path}.url`, 'utf8').trim()).toBe(url);
    expect(hub.seen.every((s) => s.authorization === null)).toBe(true);
    hub.seen.length = 0;
    expect(await resolveModelFile(url, opts())).toBe(path);
    expect(hub.seen).toEqual([]);
    const e = await errOf(resolveModelFile(`${hub.plain}/missing.gguf`, opts()));
    expect(e.message).toMatch(/HTTP 404/);
  });

  it('a cache folder that cannot be written is a clear error before any download', async () => {
    fresh();
    const file = join(cache, 'a-file');
    writeFileSync(file, 'x');
    const e = await errOf(resolveModelFile('hf:acme/tiny-GGUF/small.gguf', { endpoint: hub.endpoint, cacheDir: join(file, 'cache') }));
    expect(e.code).toBe('CACHE_NOT_WRITABLE');
    expect(e.message).toMatch(/the model cache folder '.*a-file\/cache' is not writable \(ENOTDIR\); set TENSORLOOM_CACHE/);
    expect(hub.seen).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)('a read-only cache folder (EACCES) is a clear error (skipped as root, who may write anywhere)', async () => {
    fresh();
    const { chmodSync } = await import('node:fs');
    chmodSync(cache, 0o500);
    try {
      const e = await errOf(resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts()));
      expect(e.code).toBe('CACHE_NOT_WRITABLE');
    } finally {
      chmodSync(cache, 0o700);
    }
  });

  it('a file larger than the free disk space is refused before writing', async () => {
    fresh();
    hub.plainFiles.set('huge.gguf', { body: Buffer.from('GGUF'), claimLength: 2 ** 52 });
    const e = await errOf(resolveModelFile(`${hub.plain}/huge.gguf`, opts()));
    expect(e.code).toBe('DISK_FULL');
    expect(e.message).toMatch(/not enough disk space for .*huge\.gguf: it needs 4503599627\.4 MB more, [\d.]+ MB free in /);
    expect(cached()).toEqual([]);
  });

  it.skipIf(!existsSync('/dev/full'))('a full disk (ENOSPC while writing) says so and leaves no model in the cache', async () => {
    fresh();
    const dir = join(cache, 'hf', 'acme', 'tiny-GGUF');
    mkdirSync(dir, { recursive: true });
    symlinkSync('/dev/full', join(dir, 'small.gguf.part')); // every write there fails with ENOSPC
    const e = await errOf(resolveModelFile('hf:acme/tiny-GGUF/small.gguf', opts()));
    expect(e.code).toBe('DISK_FULL');
    expect(e.message).toMatch(/the disk is full while downloading hf:acme\/tiny-GGUF\/small\.gguf.*free some space/);
    expect(existsSync(join(dir, 'small.gguf'))).toBe(false);
  });
});
