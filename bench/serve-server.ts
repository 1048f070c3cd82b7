/**
 * The server side of bench/serve.bench.ts, in its own process (forked with IPC) so that its
 * event-loop lag and RSS are the server's alone. argv[2]: JSON ServeOptions. Messages:
 * 'stats' → { rss, lagP99Ms, lagMaxMs, cpuMs (process CPU time), scheduler stats }, 'reset' (lag histogram), 'stop'.
 */
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, type ServeOptions } from '../ts/server/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as ServeOptions;
const handler = await createServer(opts);
const server = createHttpServer(handler);
server.requestTimeout = 0;
server.maxConnections = 2000;
await new Promise<void>((r) => server.listen(0, '127.0.0.1', 1024, () => r()));
const lag = monitorEventLoopDelay({ resolution: 1 });
lag.enable();

const send = (m: unknown): void => void process.send!(m);
send({ type: 'ready', port: (server.address() as AddressInfo).port, info: handler.scheduler.info });

process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') {
    const cpu = process.cpuUsage();
    send({ type: 'stats', rss: process.memoryUsage().rss, lagP99Ms: lag.percentile(99) / 1e6, lagMaxMs: lag.max / 1e6, cpuMs: (cpu.user + cpu.system) / 1e3, scheduler: handler.scheduler.stats() });
  } else if (m.type === 'reset') {
    lag.reset();
  } else if (m.type === 'stop') {
    server.close();
    server.closeAllConnections();
    void handler.scheduler.close({ force: true }).then(() => process.exit(0));
  }
});
