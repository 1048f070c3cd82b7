import { describe, expect, it } from 'vitest';
import { defaultCacheDir } from '../../ts/hub/cache-dir.js';
import { ModelFetchError } from '../../ts/hub/errors.js';
import { parseModelRef } from '../../ts/hub/model-ref.js';
import { pickGguf, quantOf } from '../../ts/hub/pick-file.js';
import { shardSet } from '../../ts/hub/shards.js';

describe('hf: references', () => {
  it('parses a file, a quant, a bare repo and URLs', () => {
    expect(parseModelRef('hf:owner/repo/file.gguf')).toMatchObject({ kind: 'hf', repo: 'owner/repo', file: 'file.gguf' });
    expect(parseModelRef('hf:owner/repo/sub/dir/x-Q8_0.gguf')).toMatchObject({ repo: 'owner/repo', file: 'sub/dir/x-Q8_0.gguf' });
    expect(parseModelRef('hf:owner/repo:Q4_K_M')).toMatchObject({ kind: 'hf', repo: 'owner/repo', quant: 'Q4_K_M' });
    const bare = parseModelRef('hf:owner/repo');
    expect(bare).toMatchObject({ kind: 'hf', repo: 'owner/repo' });
    expect('file' in bare || 'quant' in bare).toBe(false);
    expect(parseModelRef('https://example.test/m/model.gguf')).toMatchObject({ kind: 'url' });
  });

  it.each([
    ['hf:', 'missing the repo owner'],
    ['hf:owner', "missing the repo name after 'owner/'"],
    ['hf:owner/', "missing the repo name after 'owner/'"],
    ['hf:/repo/file.gguf', 'missing the repo owner'],
    ['hf:owner/repo:', 'empty quant'],
    ['hf:owner/repo/file.bin', "names 'file.bin', which is not a .gguf file"],
    ['hf:owner/repo/../../etc/x.gguf', 'invalid file path'],
    ['hf:owner/repo//x.gguf', 'invalid file path'],
    ['hf:owner/repo/x.gguf:Q4_K_M', 'both a file and a quant'],
    ['hf:own er/repo', "invalid owner 'own er'"],
    ['https://example.test/', 'names no file'],
    ['model.gguf', 'neither an hf: reference nor a URL'],
  ])('%s is a clear error: %s', (text, why) => {
    let err: unknown;
    try {
      parseModelRef(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModelFetchError);
    expect((err as ModelFetchError).code).toBe('BAD_REFERENCE');
    expect((err as Error).message).toContain(`'${text}'`);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain('hf:owner/repo/file.gguf');
  });
});

describe('cache folder', () => {
  it('is $TENSORLOOM_CACHE, else XDG / ~/.cache, ~/Library/Caches, %LOCALAPPDATA%', () => {
    expect(defaultCacheDir({ TENSORLOOM_CACHE: '/c' }, 'linux', '/h')).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' }, 'linux', '/h')).toBe('/x/tensorloom');
    expect(defaultCacheDir({}, 'linux', '/h')).toBe('/h/.cache/tensorloom');
    expect(defaultCacheDir({}, 'darwin', '/Users/u')).toBe('/Users/u/Library/Caches/tensorloom');
    expect(defaultCacheDir({ LOCALAPPDATA: 'C:/Users/u/AppData/Local' }, 'win32', 'C:/Users/u').replace(/\\/g, '/')).toBe('C:/Users/u/AppData/Local/tensorloom/Cache');
  });
});

describe('picking a GGUF from a repo listing', () => {
  const files = ['README.md', 'model-Q4_K_M.gguf', 'model.q8_0.gguf', 'model-IQ2_XS.gguf', 'big-F16-00001-of-00002.gguf', 'big-F16-00002-of-00002.gguf'];
  it('matches quant tags in any case and separator, split models by their first shard', () => {
    expect(pickGguf('o/r', files, 'Q4_K_M')).toBe('model-Q4_K_M.gguf');
    expect(pickGguf('o/r', files, 'Q8_0')).toBe('model.q8_0.gguf');
    expect(pickGguf('o/r', files, 'f16')).toBe('big-F16-00001-of-00002.gguf');
    expect(pickGguf('o/r', ['only.gguf', 'x.txt'], undefined)).toBe('only.gguf');
    expect(['model-Q4_K_M.gguf', 'model.q8_0.gguf', 'model-IQ2_XS.gguf', 'big-F16-00001-of-00002.gguf'].map(quantOf)).toEqual(['Q4_K_M', 'Q8_0', 'IQ2_XS', 'F16']);
    expect(shardSet('a/b-00002-of-00003.gguf')).toEqual(['a/b-00001-of-00003.gguf', 'a/b-00002-of-00003.gguf', 'a/b-00003-of-00003.gguf']);
  });
  it('a quant the repo lacks lists the quants it has; several GGUFs without a quant list them', () => {
    expect(() => pickGguf('o/r', files, 'Q5_K_S')).toThrow(/o\/r has no GGUF file for quant Q5_K_S[\s\S]*quants: .*Q4_K_M.*Q8_0/);
    expect(() => pickGguf('o/r', files, undefined)).toThrow(/o\/r has 4 GGUF files; name one as hf:o\/r\/FILE\.gguf or hf:o\/r:QUANT/);
    expect(() => pickGguf('o/r', ['config.json', 'model.safetensors'], 'Q4_K_M')).toThrow(/o\/r has no GGUF files \(it has config\.json, model\.safetensors\)/);
  });
});
