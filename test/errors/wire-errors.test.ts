/**
 * Errors keep their class across the model workers: every registered class survives a real
 * postMessage (MessageChannel: the structured clone a worker uses) with its message, name, code,
 * own fields, stack and cause; and errors thrown inside the generate and embed workers arrive as
 * `instanceof` their class (FormatError, UnsupportedArchitectureError, GrammarError, SchemaError).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRandomModel } from '../../scripts/make-random-model.js';
import { ChatTemplateError } from '../../ts/chat/template.js';
import { CapabilityError } from '../../ts/errors/capability-error.js';
import { loadEmbeddingModel } from '../../ts/embed/index.js';
import { EmbedError } from '../../ts/embed/embedder.js';
import { AbortError } from '../../ts/errors/abort-error.js';
import { errorFromWire, errorRegistry, errorToWire, type WireError } from '../../ts/errors/registry.js';
import { FormatError } from '../../ts/formats/byte-source.js';
import { readGGUF } from '../../ts/formats/gguf.js';
import { writeGGUF, type GGUFWriteValue } from '../../ts/formats/gguf-writer.js';
import { AbortError as GenerateAbortError } from '../../ts/generate/engine.js';
import { loadModel, type Model } from '../../ts/generate/model.js';
import { HttpOptionError } from '../../ts/generate/options.js';
import { GrammarError, SchemaError } from '../../ts/grammar/errors.js';
import { ModelFetchError } from '../../ts/hub/errors.js';
import { UnsupportedArchitectureError } from '../../ts/models/architecture.js';
import { QueueFullError, RequestError, UnavailableError } from '../../ts/server/errors.js';
import { TokenizerError } from '../../ts/tokenizers/vocab.js';

/** Through a real port, as a worker's message would go. */
async function acrossPort(w: WireError): Promise<WireError> {
  const { port1, port2 } = new MessageChannel();
  const got = new Promise<WireError>((resolve) => port2.once('message', resolve));
  port1.postMessage(w);
  const r = await got;
  port1.close();
  return r;
}

const SAMPLES: [string, () => Error, Record<string, unknown>][] = [
  ['FormatError', () => new FormatError('model.gguf: tensor blk.0.attn_q.weight: offset 99 beyond the file'), {}],
  ['UnsupportedArchitectureError', () => new UnsupportedArchitectureError("unsupported architecture 'mamba'"), {}],
  ['TokenizerError', () => new TokenizerError('tokenizer.json: merges missing'), {}],
  ['GrammarError', () => GrammarError.at('root ::= "a" |', 14, 'expected a sequence'), { offset: 14, line: 1, column: 15 }],
  ['SchemaError', () => new SchemaError('unsupported: not', '#/properties/a', ['not']), { path: '#/properties/a', unsupported: ['not'] }],
  ['ChatTemplateError', () => new ChatTemplateError('raise_exception: roles must alternate'), {}],
  ['ModelFetchError', () => new ModelFetchError('NOT_FOUND', 'hf:a/b: no such repo', { cause: new RangeError('404') }), { code: 'NOT_FOUND' }],
  ['HttpOptionError', () => new HttpOptionError('temperature must be ≥ 0', 'temperature'), { param: 'temperature' }],
  ['EmbedError', () => new EmbedError('not a reranker'), {}],
  ['CapabilityError', () => new CapabilityError("model.gguf: 'bert' is an encoder; it embeds but cannot generate"), {}],
  ['RequestError', () => new RequestError('prompt too long', 'prompt'), { param: 'prompt', status: 400, code: 'invalid_request_error' }],
  ['QueueFullError', () => new QueueFullError(8, 8, 3), { queued: 8, maxQueued: 8, retryAfterSeconds: 3, status: 429, code: 'queue_full' }],
  ['UnavailableError', () => new UnavailableError('draining'), { status: 503, code: 'unavailable' }],
  ['AbortError', () => new AbortError('aborted', { cause: 'user pressed stop' }), { code: 'ABORT_ERR' }],
  ['GenerateAbortError', () => new GenerateAbortError('aborted', { text: 'Once', tokens: [1, 2] }), { code: 'ABORT_ERR', partial: { text: 'Once', tokens: [1, 2] } }],
  ['TypeError', () => new TypeError('bad argument'), {}],
  ['RangeError', () => new RangeError('threads must be ≥ 0'), {}],
];

describe('the error registry', () => {
  it.each(SAMPLES)('%s keeps its class, message, name, fields, stack and cause across a port', async (key, make, fields) => {
    const original = make();
    const wire = await acrossPort(errorToWire(original));
    expect(wire.kind).toBe(key);
    const back = errorFromWire(wire);
    expect(back).toBeInstanceOf(original.constructor);
    expect(back).toBeInstanceOf(Error);
    expect(back.constructor).toBe(original.constructor);
    expect(back.name).toBe(original.name);
    expect(back.message).toBe(original.message);
    expect(back.stack).toBe(original.stack);
    expect(back).toMatchObject(fields);
    expect({ ...back }).toEqual({ ...original }); // the same own enumerable fields
    if (original.cause instanceof Error) {
      expect(back.cause).toBeInstanceOf(original.cause.constructor);
      expect((back.cause as Error).message).toBe(original.cause.message);
    } else expect(back.cause).toEqual(original.cause);
  });

  it('every registered class has a sample above', () => {
    const keys = new Set(SAMPLES.map(([k]) => k));
    const registered = [...(errorRegistry as unknown as { byKey: Map<string, unknown> }).byKey.keys()];
    expect(registered.length).toBeGreaterThan(10);
    for (const k of registered) if (!['Error', 'SyntaxError', 'ReferenceError', 'EvalError', 'URIError'].includes(k)) expect(keys, k).toContain(k);
  });

  it('an unregistered subclass arrives as its nearest registered ancestor, keeping its name; a non-error becomes an Error', async () => {
    class LocalError extends FormatError {
      override name = 'LocalError';
      readonly hint = 'x';
    }
    const back = errorFromWire(await acrossPort(errorToWire(new LocalError('m'))));
    expect(back).toBeInstanceOf(FormatError);
    expect(back.name).toBe('LocalError');
    expect((back as unknown as { hint: string }).hint).toBe('x');
    const plain = errorFromWire(await acrossPort(errorToWire('a string was thrown')));
    expect(plain.constructor).toBe(Error);
    expect(plain.message).toBe('a string was thrown');
  });

  it('a field that cannot be cloned is dropped, not fatal', async () => {
    const e = Object.assign(new FormatError('m'), { fn: () => 1, ok: 2 });
    const back = errorFromWire(await acrossPort(errorToWire(e)));
    expect(back).toMatchObject({ ok: 2 });
    expect('fn' in back).toBe(false);
  });
});

describe('errors thrown in the model workers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tl-wire-errors-'));
  const good = join(dir, 'good.gguf');
  let model: Model;
  beforeAll(async () => {
    makeRandomModel({ arch: 'llama', size: 'tiny', type: 'f32', seed: 3, gguf: good });
    model = await loadModel(good, { backend: 'js', threads: 1 });
  });
  afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a truncated file: FormatError from the generate worker and from the embed worker', async () => {
    const bad = join(dir, 'truncated.gguf');
    writeFileSync(bad, readFileSync(good).subarray(0, 200));
    const e1 = await loadModel(bad).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(FormatError);
    expect((e1 as Error).name).toBe('FormatError');
    const e2 = await loadEmbeddingModel(bad).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(FormatError);
    expect((e2 as Error).message).toMatch(/truncated\.gguf/);
  });

  it('an unknown architecture: UnsupportedArchitectureError from the worker, with the worker-side stack', async () => {
    const g = readGGUF(good);
    const bytes = readFileSync(good);
    const meta = new Map<string, GGUFWriteValue>();
    for (const [k, v] of g.metadata) {
      const t = g.metadataTypes.get(k)!;
      meta.set(k.startsWith('llama.') ? `mamba.${k.slice(6)}` : k, { type: t.type, value: v, ...(t.itemType !== undefined ? { itemType: t.itemType } : {}) });
    }
    meta.set('general.architecture', 'mamba');
    const p = join(dir, 'mamba.gguf');
    writeGGUF(p, { metadata: meta, tensors: g.tensors.map((t) => ({ name: t.name, type: t.type, dims: t.dims, data: bytes.subarray(t.offset, t.offset + t.byteLength) })) });
    const e = (await loadModel(p).catch((x: unknown) => x)) as Error;
    expect(e).toBeInstanceOf(UnsupportedArchitectureError);
    expect(e.message).toMatch(/unsupported architecture 'mamba'/);
    expect(e.stack).toMatch(/unsupported architecture 'mamba'[\s\S]*at loadLocal/); // the worker's frames
  });

  it('a malformed grammar and an unsupported schema: GrammarError / SchemaError with their fields', async () => {
    const g = (await model.generate('x', { grammar: 'root ::= "a" |  (', maxTokens: 2 }).catch((x: unknown) => x)) as GrammarError;
    expect(g).toBeInstanceOf(GrammarError);
    expect(g.name).toBe('GrammarError');
    expect(typeof g.offset).toBe('number');
    expect(g.line).toBe(1);
    expect(g.stack).toMatch(/at Engine\.generate/); // thrown in the worker, not by a main-thread check
    const s = (await model.generate('x', { jsonSchema: { type: 'object', not: { type: 'string' } }, maxTokens: 2 }).catch((x: unknown) => x)) as SchemaError;
    expect(s).toBeInstanceOf(SchemaError);
    expect(s.unsupported).toContain('not');
  });
});
