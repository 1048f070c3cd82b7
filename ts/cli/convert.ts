/**
 * `tensorloom convert IN OUT.gguf [--type f32|f16|q8_0] [--tokenizer PATH] [--name NAME]`
 * IN: a llama2.c .bin (tokenizer.bin / tok<vocab>.bin next to it, or --tokenizer), a Hugging Face
 * directory (config.json + safetensors + tokenizer.json), or a GGUF (to change its type).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ConvertType } from '../formats/convert.js';
import { openModelFile } from '../formats/model-file.js';
import { convertModel } from '../models/convert.js';

const USAGE = `usage: tensorloom convert IN OUT.gguf [--type f32|f16|q8_0] [--tokenizer PATH] [--name NAME] [--force] [--quiet]

IN is a llama2.c .bin, a Hugging Face model directory, or a GGUF file.
  --type       storage of the weight matrices (default f32; norms stay f32; q8_0 falls back to
               f16 for rows that are not a multiple of 32)
  --tokenizer  tokenizer file to embed (tokenizer.bin, tokenizer.json or a .gguf)
  --force      overwrite OUT if it exists`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        type: { type: 'string', default: 'f32' },
        tokenizer: { type: 'string' },
        name: { type: 'string' },
        force: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    console.error(`tensorloom convert: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 2) {
    console.error(`tensorloom convert: expected IN and OUT, got ${positionals.length} argument(s)\n\n${USAGE}`);
    return 2;
  }
  const type = values.type as string;
  if (type !== 'f32' && type !== 'f16' && type !== 'q8_0') {
    console.error(`tensorloom convert: --type must be f32, f16 or q8_0, got '${type}'`);
    return 2;
  }
  const [input, output] = positionals as [string, string];
  if (!output.endsWith('.gguf')) {
    console.error(`tensorloom convert: OUT must end in .gguf, got '${output}'`);
    return 2;
  }
  if (existsSync(output) && !values.force) {
    console.error(`tensorloom convert: '${output}' exists (use --force to overwrite)`);
    return 2;
  }
  if (resolve(input) === resolve(output)) {
    console.error('tensorloom convert: IN and OUT are the same file');
    return 2;
  }
  const progress = values.quiet ? undefined : (msg: string) => process.stderr.write(`${msg}\n`);
  const t0 = performance.now();
  const model = openModelFile(input, { ...(values.tokenizer ? { tokenizer: values.tokenizer } : {}), ...(progress ? { onProgress: progress } : {}) });
  try {
    const bytes = convertModel(model, output, { type: type as ConvertType, ...(values.name ? { name: values.name } : {}), ...(progress ? { onProgress: progress } : {}) });
    progress?.(`wrote ${output}: ${(bytes / 1e6).toFixed(2)} MB in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  } finally {
    model.close();
  }
  return 0;
}
