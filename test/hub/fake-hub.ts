/**
 * A loopback stand-in for the Hugging Face hub, reached through HF_ENDPOINT (or the endpoint
 * option): GET /api/models/{owner}/{repo} (siblings[].rfilename) and
 * GET /{owner}/{repo}/resolve/main/{file}. GGUF files are "LFS" files: the hub answers 302 to a
 * second server (another origin, like the hub's CDN) with X-Linked-Etag = sha256 and X-Linked-Size;
 * other files come straight from the hub. The CDN honours Range requests and can cut the
 * connection mid-file. Every request is recorded (path, range, authorization) so tests can see
 * what went over the wire.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  files: Record<string, Buffer>;
  /** Needs `authorization: Bearer <token>` (401 without, 403 with a wrong one). */
  gated?: boolean;
  /** Announce this sha256 instead of the real one (a corrupt download). */
  wrongSha?: boolean;
}

export interface Seen {
  server: 'hub' | 'cdn' | 'plain';
  path: string;
  range: string | null;
  authorization: string | null;
}

export interface FakeHub {
  endpoint: string;
  /** Base URL of the plain (non-hub) file server: GET /plain/{name}. */
  plain: string;
  seen: Seen[];
  /** Cut the next N CDN responses for a file after `bytes` bytes (headers promise the whole body). */
  cut(file: string, times: number, bytes: number): void;
  /** Like cut, but the connection stays open with nothing more sent (a stalled server). */
  stall(file: string, times: number, bytes: number): void;
  /** Files served at /plain/{name}; `slow` streams them in 64 KiB pieces, 5 ms apart. */
  plainFiles: Map<string, { body: Buffer; slow?: boolean; sent?: number; finished?: boolean; claimLength?: number }>;
  close(): Promise<void>;
}

export const TOKEN = 'hf_test_token';

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function sendRange(req: IncomingMessage, res: ServerResponse, body: Buffer, cutAt: number | null, headers: Record<string, string> = {}, stall = false): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  let start = 0;
  if (m) {
    start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'content-range': `bytes */${body.length}`, ...headers }).end();
      return;
    }
    res.writeHead(206, { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': String(body.length - start), 'accept-ranges': 'bytes', ...headers });
  } else {
    res.writeHead(200, { 'content-length': String(body.length), 'accept-ranges': 'bytes', ...headers });
  }
  const rest = body.subarray(start);
  if (cutAt !== null && cutAt < rest.length) {
    // Send part of the body, then drop the connection (the client sees a body shorter than promised).
    res.write(rest.subarray(0, cutAt), () => (stall ? undefined : setTimeout(() => res.socket?.destroy(), 10)));
    return;
  }
  res.end(rest);
}

export async function startFakeHub(repos: Record<string, FakeRepo>): Promise<FakeHub> {
  const seen: Seen[] = [];
  const cuts = new Map<string, { times: number; bytes: number; stall: boolean }>();
  const plainFiles: FakeHub['plainFiles'] = new Map();
  const record = (server: Seen['server'], req: IncomingMessage): void => {
    seen.push({ server, path: decodeURIComponent(req.url ?? ''), range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });
  };
  const bySha = new Map<string, { repo: string; file: string; body: Buffer }>();
  for (const [repo, r] of Object.entries(repos)) for (const [file, body] of Object.entries(r.files)) bySha.set(sha256(body), { repo, file, body });

  const cdn = await listen((req, res) => {
    record('cdn', req);
    const entry = bySha.get((req.url ?? '').replace(/^\/lfs\//, ''));
    if (!entry) return void res.writeHead(404).end('no such object');
    const cut = cuts.get(entry.file);
    let cutAt: number | null = null;
    if (cut && cut.times > 0) {
      cut.times--;
      cutAt = cut.bytes;
    }
    sendRange(req, res, entry.body, cutAt, { etag: `"${sha256(entry.body)}"` }, cut?.stall ?? false);
  });

  const plain = await listen((req, res) => {
    record('plain', req);
    const f = plainFiles.get(decodeURIComponent((req.url ?? '').replace(/^\/plain\//, '')));
    if (!f) return void res.writeHead(404).end('not found');
    if (f.claimLength !== undefined) {
      // Announce a huge file, send its first bytes, then wait (the client must give up on its own).
      res.writeHead(200, { 'content-length': String(f.claimLength) });
      res.write(f.body);
      return;
    }
    if (!f.slow) return sendRange(req, res, f.body, null);
    res.writeHead(200, { 'content-length': String(f.body.length), 'content-type': 'text/html' });
    f.sent = 0;
    const tick = (): void => {
      if (res.destroyed || f.sent! >= f.body.length) {
        f.finished = f.sent! >= f.body.length;
        res.end();
        return;
      }
      const piece = f.body.subarray(f.sent!, f.sent! + 65536);
      f.sent! += piece.length;
      res.write(piece);
      setTimeout(tick, 5);
    };
    tick();
  });

  const hub = await listen((req, res) => {
    record('hub', req);
    const url = decodeURIComponent((req.url ?? '').split('?')[0]!);
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void =>
      void res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
    const api = /^\/api\/models\/([^/]+\/[^/]+)$/.exec(url);
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url);
    const repoName = api?.[1] ?? resolve?.[1];
    const repo = repoName ? repos[repoName] : undefined;
    if (!repo) return json(404, { error: 'Repository not found' }, { 'x-error-code': 'RepoNotFound' });
    if (repo.gated) {
      const auth = req.headers.authorization;
      if (!auth) return json(401, { error: 'Access to this model is restricted' }, { 'x-error-code': 'GatedRepo' });
      if (auth !== `Bearer ${TOKEN}`) return json(403, { error: 'Forbidden' });
    }
    if (api) return json(200, { id: repoName, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
    const file = resolve![2]!;
    const body = repo.files[file];
    if (!body) return json(404, { error: 'Entry not found' }, { 'x-error-code': 'EntryNotFound' });
    if (!file.endsWith('.gguf')) return sendRange(req, res, body, null, { etag: `"${createHash('sha1').update(body).digest('hex')}"` });
    const sha = repo.wrongSha ? sha256(Buffer.from('something else')) : sha256(body);
    res.writeHead(302, { location: `${cdn.base}/lfs/${sha256(body)}`, 'x-linked-etag': `"${sha}"`, 'x-linked-size': String(body.length), etag: `"${sha}"` }).end();
  });

  return {
    endpoint: hub.base,
    plain: `${plain.base}/plain`,
    seen,
    plainFiles,
    cut(file, times, bytes) {
      cuts.set(file, { times, bytes, stall: false });
    },
    stall(file, times, bytes) {
      cuts.set(file, { times, bytes, stall: true });
    },
    async close() {
      for (const s of [hub.server, cdn.server, plain.server]) {
        s.closeAllConnections();
        await new Promise<void>((ok) => s.close(() => ok()));
      }
    },
  };
}

/** A small fake GGUF body (magic + filler), distinct per name. */
export function fakeGguf(name: string, bytes = 200_000): Buffer {
  const b = Buffer.alloc(bytes);
  b.write('GGUF', 0, 'latin1');
  for (let i = 4; i < bytes; i++) b[i] = (i * 31 + name.length * 7 + name.charCodeAt(i % name.length)) & 0xff;
  return b;
}
