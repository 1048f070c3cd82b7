/**
 * Flags as llama.cpp's tools spell them, accepted next to ours: `-m` model, `-p` prompt,
 * `-n` / `--n-predict` tokens to generate, `-c` / `--ctx-size` context, `-t` threads, `--temp`,
 * `--repeat-penalty`, `--chat-template TEXT` and `--chat-template-file FILE`. Each command keeps its
 * long names; `withLlamaAliases` rewrites the llama.cpp long spellings to them before parsing.
 */
import { existsSync, readFileSync } from 'node:fs';

/** llama.cpp long flag → this CLI's long flag (per command: the target must exist there). */
export function withLlamaAliases(argv: readonly string[], aliases: Readonly<Record<string, string>>): string[] {
  return argv.map((a) => {
    const eq = a.indexOf('=');
    const flag = eq >= 0 ? a.slice(0, eq) : a;
    const to = Object.hasOwn(aliases, flag) ? aliases[flag] : undefined;
    return to === undefined ? a : eq >= 0 ? `${to}${a.slice(eq)}` : to;
  });
}

export const GENERATION_ALIASES: Readonly<Record<string, string>> = {
  '--temp': '--temperature',
  '--n-predict': '--max-tokens',
  '--ctx-size': '--context',
  '--repeat-penalty': '--repetition-penalty',
};

/**
 * The chat template from `--chat-template TEXT` or `--chat-template-file FILE`. For compatibility
 * with earlier releases, a `--chat-template` value that names an existing file and holds no Jinja
 * is read as a file.
 */
export function chatTemplateFromFlags(text: string | undefined, file: string | undefined): string | undefined {
  if (text !== undefined && file !== undefined) throw new RangeError('give --chat-template or --chat-template-file, not both');
  if (file !== undefined) {
    if (!existsSync(file)) throw new RangeError(`--chat-template-file: '${file}' does not exist`);
    return readFileSync(file, 'utf8');
  }
  if (text !== undefined && !/\{[{%]/.test(text) && existsSync(text)) return readFileSync(text, 'utf8');
  return text;
}
