/**
 * The error classes that keep their class across the model workers (ts/generate/worker.ts,
 * ts/embed/worker.ts): both sides of a worker import this same table. A class missing here
 * arrives as its nearest registered ancestor (at worst Error) with its `name`, fields and stack kept.
 * Keys are stable names, not `Class.name`, so two classes called AbortError can both be listed.
 */
import { ChatTemplateError } from '../chat/template.js';
import { CapabilityError } from './capability-error.js';
import { EmbedError } from '../embed/embedder.js';
import { FormatError } from '../formats/byte-source.js';
import { AbortError as GenerateAbortError } from '../generate/engine.js';
import { HttpOptionError } from '../generate/options.js';
import { GrammarError, SchemaError } from '../grammar/errors.js';
import { ModelFetchError } from '../hub/errors.js';
import { UnsupportedArchitectureError } from '../models/architecture.js';
import { QueueFullError, RequestError, UnavailableError } from '../server/errors.js';
import { TokenizerError } from '../tokenizers/vocab.js';
import { AbortError } from './abort-error.js';
import { ErrorRegistry, type WireError } from './serialize.js';

export type { WireError } from './serialize.js';

export const errorRegistry = new ErrorRegistry({
  AbortError,
  GenerateAbortError,
  CapabilityError,
  ChatTemplateError,
  EmbedError,
  FormatError,
  HttpOptionError,
  GrammarError,
  SchemaError,
  ModelFetchError,
  UnsupportedArchitectureError,
  QueueFullError,
  RequestError,
  UnavailableError,
  TokenizerError,
});

/** Anything thrown → its wire form (for postMessage). */
export function errorToWire(err: unknown): WireError {
  return errorRegistry.toWire(err);
}

/** A wire form → the error, as an instance of its class. */
export function errorFromWire(w: WireError): Error {
  return errorRegistry.fromWire(w);
}
