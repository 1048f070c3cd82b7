/** `tensorloom ls`: the models in the download cache, with their sizes. */
import { defaultCacheDir } from '../hub/cache-dir.js';
import { listCachedModels } from '../hub/cache-entries.js';

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(`usage: tensorloom ls\n\nLists the models in the cache (${defaultCacheDir()}; TENSORLOOM_CACHE moves it).`);
    return 0;
  }
  if (argv.length > 0) {
    console.error(`tensorloom ls: unexpected argument '${argv[0]}'`);
    return 2;
  }
  const cache = defaultCacheDir();
  const models = listCachedModels(cache);
  if (models.length === 0) {
    console.error(`no models in ${cache} ('tensorloom pull hf:owner/repo/file.gguf' downloads one)`);
    return 0;
  }
  const width = Math.max(...models.map((m) => m.ref.length));
  for (const m of models) {
    const notes = [m.fileCount > 1 ? `${m.files}/${m.fileCount} shards` : '', m.partial ? 'partial: pull again to resume' : ''].filter(Boolean).join(', ');
    console.log(`${m.ref.padEnd(width)}  ${(m.bytes / 1e6).toFixed(1).padStart(9)} MB${notes ? `  (${notes})` : ''}`);
  }
  console.error(`cache: ${cache}`);
  return 0;
}
