/**
 * The API key and CORS, applied by the HTTP handler before routing.
 *
 * API key: every route but /health (a load balancer's probe carries no secret) needs
 * `Authorization: Bearer KEY`; the comparison runs over SHA-256 digests with timingSafeEqual, so
 * neither the key's length nor a matching prefix shows in the response time.
 *
 * CORS: `cors` is an origin (`https://app.example`), a list of them, or `*`. A request from an
 * allowed origin gets Access-Control-Allow-Origin; a preflight (OPTIONS with
 * Access-Control-Request-Method) is answered 204 with the allowed methods and headers, before the
 * key is checked (browsers send preflights without credentials).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from './errors.js';

export class ApiKeyCheck {
  private readonly digest: Buffer;
  constructor(key: string) {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('tensorloom: apiKey must be a non-empty string');
    this.digest = sha256(key);
  }

  /** Throws a 401 RequestError unless the request carries the key. */
  check(req: IncomingMessage): void {
    const header = req.headers.authorization;
    const m = typeof header === 'string' ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
    if (!m) throw new RequestError('missing API key: send the header "Authorization: Bearer <key>"', null, 401, 'invalid_api_key');
    if (!timingSafeEqual(sha256(m[1]!), this.digest)) throw new RequestError('invalid API key', null, 401, 'invalid_api_key');
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

const ALLOW_METHODS = 'GET, HEAD, POST, OPTIONS';
const ALLOW_HEADERS = 'Authorization, Content-Type';

export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: Set<string>;
  constructor(origins: string | readonly string[]) {
    const list = (typeof origins === 'string' ? origins.split(',') : [...origins]).map((o) => o.trim().replace(/\/+$/, '')).filter((o) => o.length > 0);
    if (list.length === 0) throw new TypeError('tensorloom: cors must name an origin (https://app.example) or "*"');
    this.any = list.includes('*');
    this.origins = new Set(list);
  }

  /** Sets the CORS headers for this request; returns true when it was a preflight, now answered. */
  apply(req: IncomingMessage, res: ServerResponse): boolean {
    const origin = req.headers.origin;
    const allowed = typeof origin === 'string' && (this.any || this.origins.has(origin));
    if (allowed) {
      res.setHeader('Access-Control-Allow-Origin', this.any ? '*' : origin);
      if (!this.any) res.setHeader('Vary', 'Origin');
    }
    if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
    if (allowed) {
      res.setHeader('Access-Control-Allow-Methods', ALLOW_METHODS);
      res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? ALLOW_HEADERS);
      res.setHeader('Access-Control-Max-Age', '600');
    }
    // A preflight from an origin not allowed gets 204 without the allow headers: the browser refuses.
    res.writeHead(204, { 'Content-Length': '0' });
    res.end();
    return true;
  }
}
