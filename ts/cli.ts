#!/usr/bin/env node
/**
 * `npx tensorloom <command> …` — each command lives in ts/cli/<command>.ts and exports
 * `run(argv: string[]): Promise<number>` (the exit code). Commands load lazily so `tokenize`
 * never pays for the model code.
 */
const commands: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  generate: { summary: 'stream a continuation from a model', load: () => import('./cli/generate.js') },
  chat: { summary: 'chat with a model in the terminal (its chat template, history, streaming)', load: () => import('./cli/chat.js') },
  info: { summary: 'describe a model file: architecture, parameters, dtypes, tokenizer', load: () => import('./cli/info.js') },
  tokenize: { summary: 'encode text to token ids, or --decode ids to text', load: () => import('./cli/tokenize.js') },
  convert: { summary: 'convert llama2.c or Hugging Face models to GGUF', load: () => import('./cli/convert.js') },
  serve: { summary: 'OpenAI-compatible HTTP server', load: () => import('./cli/serve.js') },
  pull: { summary: 'download a model (hf:owner/repo/file.gguf, hf:owner/repo:QUANT, URL) into the cache', load: () => import('./cli/pull.js') },
  ls: { summary: 'list the models in the download cache', load: () => import('./cli/ls.js') },
  rm: { summary: 'remove a model from the download cache', load: () => import('./cli/rm.js') },
  embed: { summary: 'embed texts (JSON lines) or rerank them with --rank', load: () => import('./cli/embed.js') },
};

function usage(): string {
  const rows = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: tensorloom <command> [options]\n\ncommands:\n${rows.join('\n')}\n\nRun 'tensorloom <command> --help' for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = commands[name];
  if (!command) {
    console.error(`tensorloom: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  let mod: { run(argv: string[]): Promise<number> };
  try {
    mod = await command.load();
  } catch (err) {
    console.error(`tensorloom: the '${name}' command is not available in this build (${(err as Error).message})`);
    return 2;
  }
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`tensorloom: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
