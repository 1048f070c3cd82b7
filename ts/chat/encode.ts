/** Token ids of a rendered chat prompt (see TemplatedText). */
import type { TemplatedText } from './types.js';

export interface TemplatedEncoder {
  readonly specialIds: Readonly<{ bos?: number }>;
  encode(text: string, options?: { addSpecialTokens?: boolean; parseSpecial?: boolean; literalSpans?: ReadonlyArray<readonly [number, number]> }): ArrayLike<number>;
}

/**
 * Control-token spellings outside `literalSpans` become control tokens. With `addSpecial`, the
 * vocabulary's BOS is added as for any prompt, unless the template already wrote one (most do,
 * with `{{ bos_token }}`): one BOS, never two.
 */
export function encodeTemplated(tokenizer: TemplatedEncoder, prompt: TemplatedText, addSpecial: boolean): number[] {
  const ids = Array.from(tokenizer.encode(prompt.text, { addSpecialTokens: addSpecial, parseSpecial: true, literalSpans: prompt.literalSpans }));
  const bos = tokenizer.specialIds.bos;
  if (addSpecial && bos !== undefined && ids.length >= 2 && ids[0] === bos && ids[1] === bos) ids.shift();
  return ids;
}
