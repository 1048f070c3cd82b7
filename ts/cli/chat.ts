/**
 * `tensorloom chat -m MODEL`: talk to a chat model in the terminal. Each line you type is a user
 * turn; the reply streams as it is generated, rendered with the model's chat template (or
 * --chat-template / --chat-template-file) and kept in the history. Ctrl-C stops the reply being
 * written (the conversation goes on); Ctrl-C at the prompt, Ctrl-D, /exit or the end of piped
 * input ends the program. /reset forgets the history.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { modelChatInfo } from '../chat/model-template.js';
import { ChatSession } from '../chat/session.js';
import { openModelFile } from '../formats/model-file.js';
import { loadModel } from '../generate/model.js';
import { defaultModelPath } from '../hub/default-model.js';
import { resolveModelArg } from './model-arg.js';
import type { ChatOptions } from '../chat/chat.js';
import { chatTemplateFromFlags, GENERATION_ALIASES, withLlamaAliases } from './llama-flags.js';

const USAGE = `usage: tensorloom chat -m MODEL [options]

  -m, --model PATH|REF      GGUF file, llama2.c .bin, Hugging Face directory, or hf:…/URL to download
                            (default: the built-in stories260K toy model, which continues your text)
  --tokenizer PATH          tokenizer file (default: embedded in / next to the model)
  --system TEXT             system prompt
  -n, --max-tokens N        most tokens per reply (default 1024; also --n-predict)
  --temperature T           default 0.8 (also --temp)
  --top-k K, --top-p P, --min-p P, --repetition-penalty R (also --repeat-penalty), -s/--seed S
  -t, --threads N           kernel threads
  -c, --context N           KV cache length (default: the model's, at most 4096; also --ctx-size)
  --chat-template TEXT      Jinja chat template overriding the model's own
  --chat-template-file FILE the same, from a file
  -h, --help

In the chat: /reset forgets the conversation, /exit (or Ctrl-D) quits, Ctrl-C stops a reply.`;

export async function run(argv: string[]): Promise<number> {
  let a;
  try {
    a = parseArgs({
      args: withLlamaAliases(argv, GENERATION_ALIASES),
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string', short: 'm' },
        tokenizer: { type: 'string' },
        system: { type: 'string' },
        'max-tokens': { type: 'string', short: 'n' },
        temperature: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        'min-p': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        seed: { type: 'string', short: 's' },
        threads: { type: 'string', short: 't' },
        context: { type: 'string', short: 'c' },
        'chat-template': { type: 'string' },
        'chat-template-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`tensorloom chat: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (a.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (name: string, v: string | undefined, integer: boolean, min: number, max = Infinity): number | undefined => {
    if (v === undefined) return undefined;
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < min || x > max) {
      throw new RangeError(`--${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got '${v}'`);
    }
    return x;
  };
  let options: ChatOptions;
  let threads: number | undefined;
  let contextLength: number | undefined;
  try {
    const o: ChatOptions = { maxTokens: num('max-tokens', a['max-tokens'], true, 1) ?? 1024, temperature: num('temperature', a.temperature, false, 0) ?? 0.8 };
    const set = <K extends keyof ChatOptions>(k: K, v: ChatOptions[K] | undefined): void => {
      if (v !== undefined) o[k] = v;
    };
    set('topK', num('top-k', a['top-k'], true, 0));
    set('topP', num('top-p', a['top-p'], false, Number.MIN_VALUE, 1));
    set('minP', num('min-p', a['min-p'], false, 0, 1));
    set('repetitionPenalty', num('repetition-penalty', a['repetition-penalty'], false, Number.MIN_VALUE));
    set('seed', num('seed', a.seed, true, 0));
    set('chatTemplate', chatTemplateFromFlags(a['chat-template'], a['chat-template-file']));
    options = o;
    threads = num('threads', a.threads, true, 1);
    contextLength = num('context', a.context, true, 16);
  } catch (err) {
    console.error(`tensorloom chat: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }

  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  let modelPath: string;
  try {
    // no --model: the built-in stories260K (announced in one line); hf:/URL: downloaded into the cache
    modelPath = await resolveModelArg(a.model);
  } catch (err) {
    console.error(`tensorloom chat: ${(err as Error).message}`);
    return 1;
  }
  if (options.chatTemplate === undefined && !hasChatTemplate(modelPath)) {
    if (modelPath !== defaultModelPath()) {
      console.error(`tensorloom chat: ${modelPath} has no chat template; give one with --chat-template or --chat-template-file (or use 'tensorloom generate')`);
      return 2;
    }
    // The built-in story model was never taught to chat: each turn simply continues the story.
    options = { ...options, chatTemplate: STORY_TEMPLATE };
  }
  process.stderr.write(`loading ${modelPath} …\n`);
  const model = await loadModel(modelPath, {
    ...(a.tokenizer !== undefined ? { tokenizer: a.tokenizer } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(contextLength !== undefined ? { contextLength } : {}),
  });
  const session = new ChatSession(model, { ...options, ...(a.system !== undefined ? { systemPrompt: a.system } : {}) });
  if (tty) process.stderr.write('Type a message; /reset forgets, /exit quits, Ctrl-C stops a reply.\n');

  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: tty, prompt: tty ? '> ' : '' });
  let answering: AbortController | null = null;
  // Ctrl-C: stop the reply being written; at the prompt, quit.
  const interrupt = (): void => {
    if (answering) answering.abort();
    else rl.close();
  };
  rl.on('SIGINT', interrupt);
  process.on('SIGINT', interrupt);

  try {
    rl.prompt();
    for await (const line of rl) {
      const text = line.trim();
      if (text === '/exit' || text === '/quit') break;
      if (text === '/reset') {
        session.reset();
        process.stderr.write('(conversation reset)\n');
      } else if (text.length > 0) {
        answering = new AbortController();
        try {
          const reply = session.stream(text, { signal: answering.signal });
          for await (const chunk of reply) process.stdout.write(chunk);
          const r = await reply.result;
          process.stdout.write('\n');
          if (r.finishReason === 'length') process.stderr.write(`(reply cut at ${r.usage.completionTokens} tokens; raise --max-tokens)\n`);
        } catch (err) {
          if ((err as Error).name !== 'AbortError') throw err;
          process.stdout.write('\n');
          process.stderr.write('(stopped)\n');
        } finally {
          answering = null;
        }
      }
      rl.prompt();
    }
    return 0;
  } finally {
    process.off('SIGINT', interrupt);
    rl.close();
    await session.dispose();
    await model.dispose();
  }
}

/** For the built-in story model (no chat template): the conversation as plain text to continue. */
const STORY_TEMPLATE = '{{ bos_token }}{% for m in messages %}{% if m.role != "system" %}{{ m.content }}{% endif %}{% endfor %}';

/** Whether the model's files carry a chat template (read from the header, before loading the weights). */
function hasChatTemplate(path: string): boolean {
  const mf = openModelFile(path);
  try {
    return modelChatInfo(mf, null, null, []).template !== null;
  } finally {
    mf.close();
  }
}
