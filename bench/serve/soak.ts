/**
 * npx tsx bench/serve/soak.ts [--seconds=60] [--clients=32] [--parallel=8] [--disconnect=0.3] [--model=PATH]
 *
 * A soak run, not a test: `clients` concurrent streaming clients (POST /v1/completions, stream:
 * true, random max_tokens) against the server (bench/serve-server.ts, forked, default model unless
 * --model), for `seconds`; a share of the requests (`disconnect`) is cut off by its client after a
 * random delay. Prints every 5 s the server's RSS and scheduler state, then a summary: requests
 * finished / cut off / failed (HTTP errors, SSE error events, connection errors the client did not
 * cause), RSS at the start and end, and whether the scheduler is idle again once the clients stop
 * (a request that leaked a slot would stay outstanding).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultModelPath } from '../../ts/hub/default-model.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (k: string, d: string): string => args.find((a) => a.startsWith(`--${k}=`))?.split('=')[1] ?? d;
const seconds = Number(opt('seconds', '60'));
const clients = Number(opt('clients', '32'));
const parallel = Number(opt('parallel', '8'));
const disconnectShare = Number(opt('disconnect', '0.3'));
const model = opt('model', '') || defaultModelPath();

interface Stats {
  rss: number;
  scheduler: { outstanding: number; [k: string]: unknown };
}

const child: ChildProcess = fork(join(here, '..', 'serve-server.ts'), [JSON.stringify({ model, parallel, maxQueued: clients * 2 })], {
  execArgv: ['--import', 'tsx'],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
const port = await new Promise<number>((resolve, reject) => {
  child.once('message', (m: { type: string; port: number }) => (m.type === 'ready' ? resolve(m.port) : reject(new Error('unexpected message'))));
  child.once('exit', (code) => reject(new Error(`the server exited while starting (code ${code})`)));
});
const stats = (): Promise<Stats> =>
  new Promise((resolve) => {
    const on = (m: { type: string } & Stats): void => {
      if (m.type !== 'stats') return;
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    child.send({ type: 'stats' });
  });

const counts = { finished: 0, cutOff: 0, failed: 0 };
const failures = new Map<string, number>();
const fail = (why: string): void => {
  counts.failed++;
  failures.set(why, (failures.get(why) ?? 0) + 1);
};
const endAt = Date.now() + seconds * 1000;
const url = `http://127.0.0.1:${port}/v1/completions`;

async function oneRequest(i: number): Promise<void> {
  const ac = new AbortController();
  const cut = Math.random() < disconnectShare;
  const timer = cut ? setTimeout(() => ac.abort(), 20 + Math.random() * 400) : null;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: `Once upon a time ${i}`, max_tokens: 16 + Math.floor(Math.random() * 112), temperature: 0.8, stream: true }),
      signal: ac.signal,
    });
    if (res.status !== 200) return fail(`HTTP ${res.status}`);
    let body = '';
    for await (const chunk of res.body!) body += Buffer.from(chunk as Uint8Array).toString('utf8');
    if (body.includes('"error"')) return fail('SSE error event');
    if (!body.includes('data: [DONE]')) return fail('stream ended without [DONE]');
    counts.finished++;
  } catch (err) {
    if (ac.signal.aborted) counts.cutOff++;
    else fail(`connection: ${(err as Error).message}`);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function client(c: number): Promise<void> {
  for (let i = 0; Date.now() < endAt; i++) await oneRequest(c * 1_000_000 + i);
}

const t0 = Date.now();
const first = await stats();
console.log(`soak: ${clients} clients, ${seconds} s, parallel ${parallel}, ${Math.round(disconnectShare * 100)} % cut off; server RSS ${(first.rss / 2 ** 20).toFixed(1)} MiB`);
const rssSeries: number[] = [first.rss];
const ticker = setInterval(() => {
  void stats().then((s) => {
    rssSeries.push(s.rss);
    console.log(`t=${((Date.now() - t0) / 1000).toFixed(0)}s RSS ${(s.rss / 2 ** 20).toFixed(1)} MiB, outstanding ${s.scheduler.outstanding}, finished ${counts.finished}, cut off ${counts.cutOff}, failed ${counts.failed}`);
  });
}, 5000);
await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
clearInterval(ticker);
// give the server a moment to notice the last disconnects, then check nothing is left in flight
await new Promise((r) => setTimeout(r, 1500));
const last = await stats();
rssSeries.push(last.rss);
console.log(
  JSON.stringify(
    {
      ...counts,
      failures: Object.fromEntries(failures),
      rssMiB: { start: +(first.rss / 2 ** 20).toFixed(1), end: +(last.rss / 2 ** 20).toFixed(1), max: +(Math.max(...rssSeries) / 2 ** 20).toFixed(1) },
      outstandingAfter: last.scheduler.outstanding,
    },
    null,
    1,
  ),
);
child.send({ type: 'stop' });
