/**
 * `tensorloom tokenize --tokenizer PATH "text"` prints the token ids;
 * `tensorloom tokenize --tokenizer PATH --decode 1,2,3` prints the text.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadTokenizer } from '../tokenizers/load.js';

const HELP = `usage: tensorloom tokenize --tokenizer PATH [options] [TEXT]
       tensorloom tokenize --tokenizer PATH --decode IDS

Encodes TEXT (or standard input when TEXT is '-' or absent) and prints the ids, or decodes a
comma/space separated list of ids and prints the text.

PATH: a GGUF model or vocabulary, a Hugging Face tokenizer.json (or its directory), a GPT-2
encoder.json (vocab.bpe next to it), or a llama2.c tokenizer.bin.

options:
  -t, --tokenizer PATH   the tokenizer file (required)
  -d, --decode IDS       decode these ids instead of encoding
      --no-special       do not add BOS/EOS/CLS/SEP when encoding
      --parse-special    match control tokens (<|endoftext|>, <s> …) written in the text
      --skip-special     leave control tokens out when decoding
      --tokens           print each id with its token string
      --json             print a JSON array
  -h, --help             show this help`;

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        tokenizer: { type: 'string', short: 't' },
        decode: { type: 'string', short: 'd' },
        'no-special': { type: 'boolean' },
        'parse-special': { type: 'boolean' },
        'skip-special': { type: 'boolean' },
        tokens: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`tensorloom tokenize: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const o = args.values;
  if (o.help) {
    console.log(HELP);
    return 0;
  }
  if (!o.tokenizer) {
    console.error(`tensorloom tokenize: --tokenizer PATH is required\n\n${HELP}`);
    return 2;
  }
  const tok = loadTokenizer(o.tokenizer);

  if (o.decode !== undefined) {
    const parts = o.decode.split(/[\s,]+/).filter((s) => s.length > 0);
    const ids = parts.map((s) => {
      const n = Number(s);
      if (!/^\d+$/.test(s) || !Number.isSafeInteger(n)) throw new Error(`--decode: '${s}' is not a token id`);
      return n;
    });
    const text = tok.decode(ids, { skipSpecialTokens: o['skip-special'] ?? false });
    console.log(o.json ? JSON.stringify(text) : text);
    return 0;
  }

  let text: string;
  if (args.positionals.length === 0 || (args.positionals.length === 1 && args.positionals[0] === '-')) {
    text = readFileSync(0, 'utf8');
  } else text = args.positionals.join(' ');
  const ids = tok.encode(text, { addSpecialTokens: !o['no-special'], parseSpecial: o['parse-special'] ?? false });
  if (o.json) console.log(JSON.stringify(Array.from(ids)));
  else if (o.tokens) for (const id of ids) console.log(`${id}\t${JSON.stringify(tok.idToToken(id))}`);
  else console.log(Array.from(ids).join(' '));
  return 0;
}
