/**
 * The two Hugging Face hub endpoints tensorloom uses, at the base URL HF_ENDPOINT names (as the
 * hub's own clients do; default the public hub):
 *   GET /api/models/{owner}/{repo}              → { siblings: [{ rfilename }] }: the repo's files
 *   GET /{owner}/{repo}/resolve/main/{file}     → the file (usually a redirect to a CDN)
 * A token (option, else HF_TOKEN) is sent as a bearer header to the hub's own origin only, never
 * to the hosts it redirects to.
 */
import { ModelFetchError } from './errors.js';

export interface HubOptions {
  /** Hub base URL; default $HF_ENDPOINT, else the public hub. */
  endpoint?: string;
  /** Access token for gated or private repos; default $HF_TOKEN. */
  token?: string;
  /** Aborts the requests (and a download in progress; what arrived is kept for a resume). */
  signal?: AbortSignal;
}

export function hubEndpoint(o: HubOptions = {}): string {
  return (o.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
}

export function hubToken(o: HubOptions = {}): string | undefined {
  return o.token ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN ?? undefined;
}

/** Headers for a request to `url`: the bearer token only when it goes to the hub itself. */
export function hubHeaders(url: URL, o: HubOptions = {}): Record<string, string> {
  const token = hubToken(o);
  return token && url.origin === new URL(hubEndpoint(o)).origin ? { authorization: `Bearer ${token}` } : {};
}

export function isHubUrl(url: URL, o: HubOptions = {}): boolean {
  return url.origin === new URL(hubEndpoint(o)).origin;
}

export function fileUrl(repo: string, file: string, o: HubOptions = {}): string {
  return `${hubEndpoint(o)}/${repo}/resolve/main/${file.split('/').map(encodeURIComponent).join('/')}`;
}

/** The message for a 401/403: the repo is gated or private, and how to pass a token. */
export function unauthorizedError(what: string, status: number, o: HubOptions = {}): ModelFetchError {
  const had = hubToken(o) !== undefined;
  const how = had
    ? 'the token given has no access to it: accept the model\'s terms on its hub page with the account the token belongs to, or use another token'
    : 'it is gated or private: accept its terms on its hub page, then pass an access token with HF_TOKEN=hf_… (or --token on the CLI, { token } in loadModel)';
  return new ModelFetchError('UNAUTHORIZED', `tensorloom: ${what}: HTTP ${status}: ${how}`);
}

async function get(url: string, o: HubOptions): Promise<Response> {
  try {
    return await fetch(url, { headers: hubHeaders(new URL(url), o), ...(o.signal ? { signal: o.signal } : {}) });
  } catch (err) {
    if (o.signal?.aborted) throw err;
    throw new ModelFetchError('NETWORK', `tensorloom: cannot reach ${url}: ${(err as Error).message}${causeText(err)}`, { cause: err });
  }
}

export function causeText(err: unknown): string {
  const c = (err as { cause?: { code?: string; message?: string } }).cause;
  return c ? ` (${c.code ?? c.message ?? ''})` : '';
}

/** The repo's file names (siblings[].rfilename). */
export async function listRepoFiles(repo: string, o: HubOptions = {}): Promise<string[]> {
  const url = `${hubEndpoint(o)}/api/models/${repo}`;
  const res = await get(url, o);
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw unauthorizedError(`the repo ${repo}`, res.status, o);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new ModelFetchError('NOT_FOUND', `tensorloom: the repo ${repo} does not exist on ${hubEndpoint(o)} (check the owner/name spelling; a private repo needs HF_TOKEN or --token)`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ModelFetchError('HTTP', `tensorloom: listing the files of ${repo}: HTTP ${res.status} from ${url}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    throw new ModelFetchError('HTTP', `tensorloom: listing the files of ${repo}: ${url} did not answer JSON`, { cause: err });
  }
  const siblings = (body as { siblings?: unknown }).siblings;
  if (!Array.isArray(siblings)) throw new ModelFetchError('HTTP', `tensorloom: listing the files of ${repo}: the answer from ${url} has no siblings list`);
  return siblings.map((s) => (s as { rfilename?: unknown }).rfilename).filter((f): f is string => typeof f === 'string');
}
