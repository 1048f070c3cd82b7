/**
 * `tensorloom generate --model PATH [options]`: streams a continuation to stdout.
 * Without --prompt generation starts from BOS. --json prints one JSON object instead
 * (text, token ids, finish reason, usage, timings). Load progress and errors go to stderr.
 */
import { parseArgs } from 'node:util';
import type { BackendName } from '../backend/index.js';
import { loadModel } from '../generate/model.js';
import { resolveModelArg } from './model-arg.js';
import { GENERATION_ALIASES, withLlamaAliases } from './llama-flags.js';
import type { GenerateOptions } from '../generate/types.js';

const USAGE = `usage: tensorloom generate [--model PATH|REF] [options]

  -m, --model PATH|REF  GGUF file, llama2.c .bin, Hugging Face directory, or a model to download:
                       hf:owner/repo/file.gguf, hf:owner/repo:Q4_K_M, https URL
                       (default: the built-in stories260K toy model)
  --token TOKEN        access token for gated hub repos (default: $HF_TOKEN)
  --tokenizer PATH     tokenizer file (default: embedded in / next to the model)
  -p, --prompt TEXT    text to continue (default: start from BOS)
  -n, --max-tokens N   most tokens to generate (default 256; also --n-predict)
  --temperature T      0 = greedy (default 1; also --temp)
  --top-k K            keep the K most likely tokens (default 0 = off)
  --top-p P            nucleus sampling (default 1 = off)
  --min-p P            drop tokens below P × the top probability (default 0 = off)
  --repetition-penalty R  (also --repeat-penalty)
  -s, --seed S         same seed, same text
  --stop TEXT          stop before this text (repeatable)
  -t, --threads N      kernel threads (default: physical cores)
  -c, --context N      KV cache length in tokens (default: the model's, at most 4096; also --ctx-size)
  --backend NAME       native | js
  --echo               print the prompt before the continuation
  --json               print one JSON object with text, token ids and timings
  --help`;

class UsageError extends Error {}

function number(name: string, v: string | undefined, integer: boolean, min: number): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < min) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got '${v}'`);
  }
  return x;
}

export async function run(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: withLlamaAliases(argv, GENERATION_ALIASES),
      strict: true,
      allowPositionals: false,
      options: {
        model: { type: 'string', short: 'm' },
        token: { type: 'string' },
        tokenizer: { type: 'string' },
        prompt: { type: 'string', short: 'p' },
        'max-tokens': { type: 'string', short: 'n' },
        temperature: { type: 'string' },
        'top-k': { type: 'string' },
        'top-p': { type: 'string' },
        'min-p': { type: 'string' },
        'repetition-penalty': { type: 'string' },
        seed: { type: 'string', short: 's' },
        stop: { type: 'string', multiple: true },
        threads: { type: 'string', short: 't' },
        context: { type: 'string', short: 'c' },
        backend: { type: 'string' },
        echo: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    console.error(`tensorloom generate: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  let options: GenerateOptions;
  let threads: number | undefined;
  let contextLength: number | undefined;
  try {
    if (args.model === '') throw new UsageError('--model is empty');
    if (args.backend !== undefined && args.backend !== 'native' && args.backend !== 'js') throw new UsageError(`--backend must be 'native' or 'js', got '${args.backend}'`);
    const topP = number('top-p', args['top-p'], false, 0);
    if (topP !== undefined && (topP <= 0 || topP > 1)) throw new UsageError(`--top-p must be in (0, 1], got '${args['top-p']}'`);
    const minP = number('min-p', args['min-p'], false, 0);
    if (minP !== undefined && minP > 1) throw new UsageError(`--min-p must be in [0, 1], got '${args['min-p']}'`);
    const o: GenerateOptions = {};
    const set = <K extends keyof GenerateOptions>(k: K, v: GenerateOptions[K] | undefined): void => {
      if (v !== undefined) o[k] = v;
    };
    set('maxTokens', number('max-tokens', args['max-tokens'], true, 0));
    set('temperature', number('temperature', args.temperature, false, 0));
    set('topK', number('top-k', args['top-k'], true, 0));
    set('topP', topP);
    set('minP', minP);
    set('repetitionPenalty', number('repetition-penalty', args['repetition-penalty'], false, Number.MIN_VALUE));
    set('seed', number('seed', args.seed, true, 0));
    set('stop', args.stop);
    options = o;
    threads = number('threads', args.threads, true, 1);
    contextLength = number('context', args.context, true, 1);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`tensorloom generate: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }

  let modelPath: string;
  try {
    modelPath = await resolveModelArg(args.model, args.token !== undefined ? { token: args.token } : {});
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  if (!args.json && args.model !== undefined) process.stderr.write(`loading ${modelPath} …\n`); // the default model was announced already
  const model = await loadModel(modelPath, {
    ...(args.tokenizer !== undefined ? { tokenizer: args.tokenizer } : {}),
    ...(threads !== undefined ? { threads } : {}),
    ...(contextLength !== undefined ? { contextLength } : {}),
    ...(args.backend !== undefined ? { backend: args.backend as BackendName } : {}),
  });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    const prompt = args.prompt ?? '';
    if (args.json) {
      const result = await model.generate(prompt, { ...options, signal: controller.signal });
      const promptTokens = await model.encode(prompt);
      process.stdout.write(
        JSON.stringify({
          model: args.model ?? modelPath,
          prompt,
          promptTokens,
          text: result.text,
          tokens: result.tokens,
          finishReason: result.finishReason,
          usage: result.usage,
          timings: { loadMs: model.info.loadMs, ...result.timings },
        }) + '\n',
      );
    } else {
      if (args.echo) process.stdout.write(prompt);
      const stream = model.stream(prompt, { ...options, signal: controller.signal });
      for await (const chunk of stream) process.stdout.write(chunk);
      const r = await stream.result;
      process.stdout.write('\n');
      process.stderr.write(
        `${r.usage.completionTokens} tokens (${r.finishReason}); prefill ${r.timings.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${r.timings.decodeTokensPerSecond.toFixed(1)} tok/s\n`,
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await model.dispose();
  }
}
