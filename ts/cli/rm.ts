/** `tensorloom rm REF…`: removes models from the download cache (all shards, unfinished parts). */
import { removeCachedModel } from '../hub/cache-entries.js';
import { defaultCacheDir } from '../hub/cache-dir.js';
import { ModelFetchError } from '../hub/errors.js';

const USAGE = `usage: tensorloom rm REF…

REF as 'tensorloom ls' prints it: hf:owner/repo/file.gguf, hf:owner/repo:QUANT, hf:owner/repo
(the whole repo) or a URL.`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (argv.length === 0) {
    console.error(`tensorloom rm: name what to remove\n\n${USAGE}`);
    return 2;
  }
  const cache = defaultCacheDir();
  let status = 0;
  for (const ref of argv) {
    try {
      const removed = removeCachedModel(ref, cache);
      console.error(`removed ${ref} (${removed.length} file${removed.length === 1 ? '' : 's'})`);
    } catch (err) {
      if (!(err instanceof ModelFetchError)) throw err;
      console.error(err.message);
      status = 1;
    }
  }
  return status;
}
