/**
 * The token-by-token loop after the prefill, shared by the decoder Engine and the Seq2SeqEngine:
 * each step samples from the logits (under the grammar when there is one), stops at an EOS id, a
 * stop string, a grammar that admits nothing more, `maxTokens`, or a full `history`; otherwise the
 * token goes into `history` and `step` runs it.
 */
import type { GrammarConstraint } from '../grammar/token-mask.js';
import type { ConstrainedSampler } from './constrained-sample.js';
import type { GenerationOutput } from './generation-output.js';
import type { ResolvedSampling, Sampler } from './sampler.js';
import type { GenerateResult } from './types.js';

export interface DecodeLoop {
  sampler: Sampler;
  constrained: ConstrainedSampler;
  sampling: ResolvedSampling;
  constraint: GrammarConstraint | null;
  out: GenerationOutput;
  aborted: () => boolean;
  eos: readonly number[];
  maxTokens: number;
  /** The tokens so far (the penalties' history): `length` of them, at most `limit`. */
  history: Int32Array;
  length: number;
  limit: number;
  /** The prefill's logits: the distribution of the first generated token. */
  logits: Float32Array;
  /** Runs history[at] (just appended) at position `at`: the next token's logits. */
  step: (at: number) => Float32Array;
}

export function decodeLoop(o: DecodeLoop): { finishReason: GenerateResult['finishReason']; tDecode: number; decodeTokens: number } {
  const { constraint, sampling, history, out } = o;
  let { logits, length } = o;
  o.sampler.reset(sampling);
  let finishReason: GenerateResult['finishReason'] = 'length';
  let decodeTokens = 0;
  const tDecode = performance.now();
  for (let i = 0; i < o.maxTokens; i++) {
    if (o.aborted()) out.abort();
    out.capture(logits); // the model's distribution, before the sampler edits the row
    const id = constraint ? o.constrained.sample(constraint, sampling, logits, history, length) : o.sampler.sample(logits, history, length);
    if (o.eos.includes(id)) {
      finishReason = 'stop';
      break;
    }
    constraint?.accept(id);
    if (out.push(id) || constraint?.finished) {
      finishReason = 'stop'; // a stop string; or a grammar that admits nothing more ends the text, as EOS would
      break;
    }
    if (i + 1 === o.maxTokens || length >= o.limit) break; // no room or no need to run this token
    history[length] = id;
    logits = o.step(length);
    length++;
    decodeTokens++;
  }
  out.finish();
  return { finishReason, tDecode, decodeTokens };
}
