/**
 * Which GGUF of a repo an hf: reference means: the file it names, the one whose name carries the
 * quant tag (hf:owner/repo:Q4_K_M matches "model-Q4_K_M.gguf", "model.q4_k_m.gguf", and the first
 * shard of a split model), or the repo's only GGUF. Errors list what the repo has.
 */
import { ModelFetchError } from './errors.js';
import { firstShard, parseShardName } from './shards.js';

/** A file's quant tag (Q4_K_M, Q8_0, IQ2_XS, F16, BF16, …), if its name carries one. */
export function quantOf(file: string): string | null {
  const base = (file.split('/').pop() ?? file).replace(/(-\d{5}-of-\d{5})?\.gguf$/i, '');
  const m = /(?:^|[-._])((?:I?Q\d+(?:_[A-Z0-9]+)*)|BF16|F16|F32)$/i.exec(base) ?? /(?:^|[-._])((?:I?Q\d+(?:_[A-Z0-9]+)*)|BF16|F16|F32)(?=[-._])/i.exec(base);
  return m ? m[1]!.toUpperCase() : null;
}

function matchesQuant(file: string, quant: string): boolean {
  const base = (file.split('/').pop() ?? file).replace(/\.gguf$/i, '');
  const q = quant.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(?:^|[-._])${q}(?:[-._]|$)`, 'i').test(base);
}

/** The models among `files`: each GGUF, with a split model named by its first shard. */
export function ggufModels(files: string[]): string[] {
  return [...new Set(files.filter((f) => f.toLowerCase().endsWith('.gguf')).map(firstShard))].sort();
}

function listing(models: string[]): string {
  const shown = models.slice(0, 30).map((f) => {
    const s = parseShardName(f);
    return `  ${f}${s ? ` (${s.count} shards)` : ''}`;
  });
  if (models.length > 30) shown.push(`  … and ${models.length - 30} more`);
  return shown.join('\n');
}

export function describeGgufFiles(repo: string, files: string[]): string {
  const models = ggufModels(files);
  if (models.length === 0) return `${repo} has no GGUF files`;
  const quants = [...new Set(models.map(quantOf).filter((q): q is string => q !== null))];
  return `GGUF files in ${repo}:\n${listing(models)}${quants.length ? `\nquants: ${quants.join(', ')}` : ''}`;
}

/**
 * The file `quant` (or, without one, the repo's only GGUF) picks among `files`.
 * `strict` false (a cache lookup) returns null instead of throwing when nothing or several match.
 */
export function pickGguf(repo: string, files: string[], quant: string | undefined, strict = true): string | null {
  const models = ggufModels(files);
  if (models.length === 0) {
    if (!strict) return null;
    const others = files.slice(0, 12).join(', ');
    throw new ModelFetchError('NO_GGUF', `tensorloom: ${repo} has no GGUF files${files.length ? ` (it has ${others}${files.length > 12 ? ', …' : ''})` : ''}; tensorloom downloads GGUF models — pick a repo with .gguf files, or download the safetensors yourself and run 'tensorloom convert'`);
  }
  const matches = quant === undefined ? models : models.filter((f) => matchesQuant(f, quant));
  if (matches.length === 1) return matches[0]!;
  if (!strict) return null;
  if (matches.length === 0) {
    throw new ModelFetchError('NO_GGUF', `tensorloom: ${repo} has no GGUF file for quant ${quant}; ${describeGgufFiles(repo, files)}\nname one as hf:${repo}:QUANT or hf:${repo}/FILE.gguf`);
  }
  const what = quant === undefined ? `${matches.length} GGUF files` : `${matches.length} GGUF files matching ${quant}`;
  throw new ModelFetchError('AMBIGUOUS', `tensorloom: ${repo} has ${what}; name one as hf:${repo}/FILE.gguf${quant === undefined ? ` or hf:${repo}:QUANT` : ''}:\n${listing(matches)}`);
}
