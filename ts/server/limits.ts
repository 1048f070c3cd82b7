/**
 * Time and size limits for the HTTP server, so that no request can hold a connection without end:
 *
 * - headers must arrive within `headersTimeoutMs`, the whole request (headers + body) within
 *   `requestTimeoutMs` (Node's own timers, checked every second here instead of every 30 s);
 *   the handler itself also bounds the body (`bodyTimeoutMs`, `bodyIdleTimeoutMs` in
 *   ServeOptions), so a server you build yourself is covered too;
 * - what Node's parser refuses is answered, not reset: 408 for a timeout, 414 for a request line
 *   too long, 431 for headers too large, 400 for the rest. The connection then closes gracefully:
 *   the answer is sent, our side is half-closed, and what the client still sends is read and
 *   dropped for a moment — closing with unread bytes would make the kernel send a reset, and the
 *   client would see ECONNRESET instead of the answer.
 *
 * Response time is not limited here: a generation may stream for minutes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

export interface HttpLimits {
  /** Time for the request line and headers. Default 10 s. */
  headersTimeoutMs?: number;
  /** Time for the whole request (headers and body), not the response. Default 60 s. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Largest request line + headers. Default 16 KiB (Node's). */
  maxHeaderBytes?: number;
}

/** An http.Server for `handler` with the limits above and graceful answers to malformed requests. */
export function createLimitedServer(handler: (req: IncomingMessage, res: ServerResponse) => void, limits: HttpLimits = {}): Server {
  const headersTimeout = limits.headersTimeoutMs ?? 10_000;
  const requestTimeout = Math.max(limits.requestTimeoutMs ?? 60_000, headersTimeout);
  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? 5_000,
      maxHeaderSize: limits.maxHeaderBytes ?? 16 * 1024,
      connectionsCheckingInterval: Math.min(1_000, headersTimeout),
    },
    handler,
  );
  server.on('clientError', answerClientError);
  return server;
}

/** The status Node's parser error deserves. */
export function clientErrorStatus(err: Error & { code?: string; rawPacket?: Buffer }): 400 | 408 | 414 | 431 | null {
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return null; // the client is gone
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return 408;
    case 'HPE_HEADER_OVERFLOW': {
      // Overflow while the request line is still unfinished (no line break yet, or a chunk of a
      // URL with no header in it) is a URI too long; otherwise the headers are too large.
      const text = err.rawPacket ? err.rawPacket.toString('latin1', 0, Math.min(err.rawPacket.length, 1 << 16)) : '';
      const lineEnd = text.indexOf('\n');
      const startsRequest = /^[A-Z]{3,10} /.test(text);
      if ((startsRequest && lineEnd < 0) || (!startsRequest && lineEnd < 0 && !text.includes(':'))) return 414;
      return 431;
    }
    default:
      return 400;
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 414: 'URI Too Long', 431: 'Request Header Fields Too Large' };

/** The server's 'clientError' listener: answer with a JSON error and close without a reset. */
export function answerClientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  const status = clientErrorStatus(err);
  if (status === null || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten) {
    socket.destroy();
    return;
  }
  const message = {
    400: 'the request is not valid HTTP',
    408: 'the request was not received in time',
    414: 'the request URL is too long',
    431: 'the request headers are too large',
  }[status];
  const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: REASONS[status]!.toLowerCase().replace(/ /g, '_') } });
  socket.end(`HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  lingerThenClose(socket);
}

/** Reads and drops what the peer still sends for up to 2 s, then closes (see the file comment). */
export function lingerThenClose(socket: Duplex, ms = 2_000): void {
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
}
