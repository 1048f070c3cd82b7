/** The worker's side of /tokenize and /detokenize: runs the loaded engine's tokenizer. */
import type { LoadedEngine } from './engine.js';
import type { TokenTable } from '../grammar/token-mask.js';
import type { TokenizeCall, TokenizeReply } from './protocol.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function answerTokenize(loaded: LoadedEngine, msg: TokenizeCall): TokenizeReply {
  const { tokenizer, engine } = loaded;
  try {
    if (msg.type === 'detokenize') {
      const bad = msg.tokens.findIndex((t) => t >= engine.vocabSize);
      if (bad >= 0) return { type: 'tokenized', id: msg.id, error: `tokens[${bad}] = ${msg.tokens[bad]} is outside the vocabulary (${engine.vocabSize} tokens)` };
      const dec = tokenizer.createStreamDecoder();
      let content = '';
      for (const t of msg.tokens) content += dec.push(t);
      return { type: 'tokenized', id: msg.id, content: content + dec.flush() };
    }
    // parse_special: the whole text is template text, so control-token spellings become tokens.
    const tokens = tokenizer.encode(msg.parseSpecial ? { text: msg.text, literalSpans: [] } : msg.text, msg.addSpecial);
    if (!msg.withPieces) return { type: 'tokenized', id: msg.id, tokens };
    const table = tokenizer.tokenTable?.();
    return { type: 'tokenized', id: msg.id, tokens, pieces: tokens.map((t) => piece(loaded, table, t)) };
  } catch (err) {
    return { type: 'tokenized', id: msg.id, error: err instanceof Error ? err.message : String(err) };
  }
}

/** A token's text; its bytes when they are not complete UTF-8 alone (a byte-fallback token, half a character). */
function piece(loaded: LoadedEngine, table: TokenTable | undefined, id: number): string | number[] {
  if (table) {
    const bytes = table.flat.subarray(table.offsets[id]!, table.offsets[id + 1]!);
    try {
      return utf8.decode(bytes);
    } catch {
      return Array.from(bytes);
    }
  }
  const dec = loaded.tokenizer.createStreamDecoder();
  return dec.push(id) + dec.flush();
}
