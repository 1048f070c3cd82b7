/** The chat template a model's files carry, and the token texts it prints. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelFile } from '../formats/model-file.js';

export interface ModelChatInfo {
  /** Jinja source: GGUF `tokenizer.chat_template`, or `chat_template` in tokenizer_config.json; null when none. */
  template: string | null;
  /** Texts of the BOS / EOS tokens, which templates print as `bos_token` / `eos_token`. */
  bosToken?: string;
  eosToken?: string;
  /** Spellings of the vocabulary's control tokens (see ChatTemplateSpecials). */
  controlTokens: string[];
}

export function modelChatInfo(src: ModelFile, bos: number | null, eos: number | null, controlTokens: string[]): ModelChatInfo {
  return { template: chatTemplate(src), ...specialTexts(src, bos, eos), controlTokens };
}

function chatTemplate(src: ModelFile): string | null {
  const fromGguf = src.gguf?.metadata.get('tokenizer.chat_template');
  if (typeof fromGguf === 'string' && fromGguf.length > 0) return fromGguf;
  const t = hfTokenizerConfig(src)?.chat_template;
  if (typeof t === 'string') return t;
  // Newer files list named templates; the one named 'default' (or the first) is the chat template.
  if (Array.isArray(t)) {
    const named = t as { name?: unknown; template?: unknown }[];
    const d = named.find((x) => x.name === 'default') ?? named[0];
    if (d && typeof d.template === 'string') return d.template;
  }
  return null;
}

function specialTexts(src: ModelFile, bos: number | null, eos: number | null): { bosToken?: string; eosToken?: string } {
  const out: { bosToken?: string; eosToken?: string } = {};
  const tokens = src.gguf?.metadata.get('tokenizer.ggml.tokens');
  if (Array.isArray(tokens)) {
    if (bos !== null && typeof tokens[bos] === 'string') out.bosToken = tokens[bos] as string;
    if (eos !== null && typeof tokens[eos] === 'string') out.eosToken = tokens[eos] as string;
    return out;
  }
  const cfg = hfTokenizerConfig(src);
  const text = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : undefined;
  const b = text(cfg?.bos_token);
  const e = text(cfg?.eos_token);
  if (b !== undefined) out.bosToken = b;
  if (e !== undefined) out.eosToken = e;
  return out;
}

function hfTokenizerConfig(src: ModelFile): Record<string, unknown> | null {
  if (src.format !== 'safetensors') return null;
  const dir = statSync(src.path).isDirectory() ? src.path : dirname(src.path);
  const file = join(dir, 'tokenizer_config.json');
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}
