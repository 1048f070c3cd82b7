/**
 * The ways to name a remote model, parsed:
 *   hf:owner/repo/path/to/file.gguf   one file of a Hugging Face repo (branch main)
 *   hf:owner/repo:Q4_K_M              the repo's GGUF whose name carries that quant tag
 *   hf:owner/repo                     the repo's only GGUF (an error lists them when there are several)
 *   https://host/path/model.gguf      any URL (http:// too, for local mirrors)
 * Anything else is a local path. Parts are checked here, so a bad string fails before any request,
 * and no part can step outside its cache folder ('..', empty segments).
 */
import { ModelFetchError } from './errors.js';

export type ModelRef =
  | { kind: 'hf'; repo: string; file?: string; quant?: string; text: string }
  | { kind: 'url'; url: URL; text: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/; // hub owner and repo names
const QUANT = /^[A-Za-z0-9_.-]+$/;

/** True for strings loadModel resolves through the hub or a URL rather than the file system. */
export function isRemoteRef(s: string): boolean {
  return s.startsWith('hf:') || /^https?:\/\//i.test(s);
}

function bad(text: string, why: string): ModelFetchError {
  return new ModelFetchError(
    'BAD_REFERENCE',
    `tensorloom: '${text}' ${why}; expected hf:owner/repo/file.gguf, hf:owner/repo:QUANT (e.g. hf:owner/repo:Q4_K_M) or an https:// URL of a .gguf file`,
  );
}

function checkSegments(text: string, path: string, what: string): void {
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || seg.includes('\\') || /[\0-\x1f]/.test(seg)) throw bad(text, `has an invalid ${what} '${path}'`);
  }
}

export function parseModelRef(text: string): ModelRef {
  if (typeof text !== 'string') throw bad(String(text), 'is not a string');
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw bad(text, 'is not a valid URL');
    }
    const path = decodeURIComponent(url.pathname);
    if (!path || path === '/' || path.endsWith('/')) throw bad(text, 'names no file');
    return { kind: 'url', url, text };
  }
  if (!text.startsWith('hf:')) throw bad(text, 'is neither an hf: reference nor a URL');
  let rest = text.slice(3);
  let quant: string | undefined;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    quant = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!quant) throw bad(text, 'has an empty quant after ":"');
    if (!QUANT.test(quant)) throw bad(text, `has an invalid quant '${quant}'`);
  }
  const parts = rest.split('/');
  const [owner, name] = parts;
  if (!owner) throw bad(text, 'is missing the repo owner');
  if (!name) throw bad(text, `is missing the repo name after '${owner}/'`);
  if (!NAME.test(owner)) throw bad(text, `has an invalid owner '${owner}'`);
  if (!NAME.test(name) || name.endsWith('.gguf')) throw bad(text, `has an invalid repo name '${name}'`);
  const repo = `${owner}/${name}`;
  if (parts.length === 2) return { kind: 'hf', repo, ...(quant !== undefined ? { quant } : {}), text };
  const file = parts.slice(2).join('/');
  if (quant !== undefined) throw bad(text, 'names both a file and a quant');
  checkSegments(text, file, 'file path');
  if (!file.toLowerCase().endsWith('.gguf')) throw bad(text, `names '${file}', which is not a .gguf file (only GGUF models can be downloaded)`);
  return { kind: 'hf', repo, file, text };
}
