/**
 * `tensorloom pull REF [--token T]`: downloads a model into the cache (or finds it there) and
 * prints its local path. REF: hf:owner/repo/file.gguf, hf:owner/repo:QUANT, or an https URL.
 */
import { parseArgs } from 'node:util';
import { defaultCacheDir } from '../hub/cache-dir.js';
import { ModelFetchError } from '../hub/errors.js';
import { isRemoteRef } from '../hub/model-ref.js';
import { progressPrinter } from '../hub/progress-bar.js';
import { resolveModelFile } from '../hub/resolve-model.js';

const USAGE = `usage: tensorloom pull REF [--token TOKEN] [--offline]

REF is one of
  hf:owner/repo/file.gguf     a file of a Hugging Face repo (split models: name any shard)
  hf:owner/repo:Q4_K_M        the repo's GGUF with that quant in its name
  https://host/path/x.gguf    any URL of a GGUF file
Downloads into the cache (${defaultCacheDir()}; set TENSORLOOM_CACHE to move it), resuming an
unfinished download, and prints the local path. A cached model is not downloaded again.
  --token TOKEN   access token for gated or private repos (default: $HF_TOKEN)
  --offline       only look in the cache
Hub base URL: $HF_ENDPOINT (default the public hub).`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { token: { type: 'string' }, offline: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    console.error(`tensorloom pull: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1 || !isRemoteRef(positionals[0]!)) {
    console.error(`tensorloom pull: expected one hf: reference or URL, got ${positionals.length ? positionals.map((p) => `'${p}'`).join(' ') : 'none'}\n\n${USAGE}`);
    return 2;
  }
  const bar = progressPrinter();
  try {
    const path = await resolveModelFile(positionals[0]!, { ...(values.token !== undefined ? { token: values.token } : {}), ...(values.offline ? { offline: true } : {}), onProgress: bar.onProgress });
    bar.done();
    console.log(path);
    return 0;
  } catch (err) {
    bar.done();
    if (err instanceof ModelFetchError) {
      console.error(err.message);
      return err.code === 'BAD_REFERENCE' ? 2 : 1;
    }
    throw err;
  }
}
