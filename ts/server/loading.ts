/**
 * The answer while the model is still loading: `tensorloom serve` listens at once (so a
 * Kubernetes readiness probe sees the pod alive but not ready) and hands requests to this handler
 * until createServer() resolves. /health says 503 {status: "loading"}; everything else gets 503
 * with Retry-After, in OpenAI's error shape.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export function loadingHandler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
  const body =
    path === '/health'
      ? { status: 'loading' }
      : { error: { message: 'the model is still loading; retry shortly', type: 'server_error', param: null, code: 'model_loading' } };
  const text = JSON.stringify(body);
  res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Retry-After': '5' });
  res.end(req.method === 'HEAD' ? undefined : text);
}
