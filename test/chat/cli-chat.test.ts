/**
 * `tensorloom chat` as a user runs it (a child process through tsx), with piped stdin: the replies
 * are what model.chat gives for the same conversation (history kept, /reset forgets it), Ctrl-C
 * (SIGINT) stops a reply without ending the program, and llama.cpp-style flags work.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../ts/generate/index.js';
import { repoRoot, storiesDir } from '../formats/helpers.js';
import { CHATML, CHATML_RENAME, havePhi3Vocab, writeChatModel } from './chat-model.js';
import { existsSync } from 'node:fs';

const cli = join(repoRoot, 'ts', 'cli.ts');
// `node --import tsx` (not the tsx CLI, which runs the script in a second process): signals reach the CLI itself
const tsxLoader = 'tsx';
const stories = join(storiesDir, 'stories260K-f32.gguf');
const TEMPLATE = "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}{{ m.content }}{% else %} {{ m.content }}. {% endif %}{% endfor %}";

interface Child {
  stdout: string;
  stderr: string;
  write(s: string): void;
  end(): void;
  kill(sig: NodeJS.Signals): void;
  waitFor(re: RegExp, where?: 'stdout' | 'stderr'): Promise<void>;
  exit: Promise<number | null>;
}

function start(args: string[]): Child {
  const p = spawn(process.execPath, ['--import', tsxLoader, cli, 'chat', ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  const c: Child = {
    stdout: '',
    stderr: '',
    write: (s) => p.stdin.write(s),
    end: () => p.stdin.end(),
    kill: (sig) => p.kill(sig),
    waitFor: (re, where = 'stdout') =>
      new Promise((resolve, reject) => {
        const t = setInterval(() => {
          if (re.test(where === 'stdout' ? c.stdout : c.stderr)) {
            clearInterval(t);
            resolve();
          }
        }, 5);
        p.once('exit', () => {
          clearInterval(t);
          if (re.test(where === 'stdout' ? c.stdout : c.stderr)) resolve();
          else reject(new Error(`exited before ${re}: ${c.stderr}`));
        });
      }),
    exit: new Promise((r) => p.once('exit', (code) => r(code))),
  };
  p.stdout.on('data', (d: Buffer) => (c.stdout += d.toString()));
  p.stderr.on('data', (d: Buffer) => (c.stderr += d.toString()));
  return c;
}

describe.skipIf(!existsSync(stories))('tensorloom chat (piped stdin)', () => {
  it('answers each line with the history kept; /reset forgets it; -m -n -t --temp and --chat-template work', async () => {
    const c = start(['-m', stories, '-n', '10', '-t', '1', '--temp', '0', '--chat-template', TEMPLATE]);
    c.write('Once upon a time\nShe said\n/reset\nShe said\n');
    c.end();
    expect(await c.exit).toBe(0);
    const lines = c.stdout.split('\n').filter((l) => l.length > 0);
    const m = await loadModel(stories, { worker: false });
    try {
      const o = { chatTemplate: TEMPLATE, temperature: 0, maxTokens: 10 };
      const a1 = await m.chat([{ role: 'user', content: 'Once upon a time' }], o);
      const a2 = await m.chat([{ role: 'user', content: 'Once upon a time' }, a1.message, { role: 'user', content: 'She said' }], o);
      const a3 = await m.chat([{ role: 'user', content: 'She said' }], o);
      expect(lines).toEqual([a1.text, a2.text, a3.text]);
      expect(a2.text).not.toBe(a3.text); // the history mattered
    } finally {
      await m.dispose();
    }
    expect(c.stderr).toMatch(/conversation reset/);
  }, 60_000);

  it('a model without a template and bad flags exit 2 with a clear message', async () => {
    const a = start(['-m', stories]);
    a.end();
    expect(await a.exit).toBe(2);
    expect(a.stderr).toMatch(/no chat template/);
    const b = start(['-m', stories, '--temp', 'hot']);
    expect(await b.exit).toBe(2);
    expect(b.stderr).toMatch(/--temperature must be a number/);
  }, 60_000);
});

describe('tensorloom chat with no --model: the built-in stories260K', () => {
  it('says so in one line and continues the typed text as the model does', async () => {
    const c = start(['-n', '12', '--temp', '0']);
    c.write('Once upon a time\n');
    c.end();
    expect(await c.exit).toBe(0);
    expect(c.stderr.match(/built-in/g)?.length).toBe(1);
    const m = await loadModel(undefined, { worker: false });
    try {
      const want = await m.generate('Once upon a time', { temperature: 0, maxTokens: 12 });
      expect(c.stdout.trim()).toBe(want.text.trim());
    } finally {
      await m.dispose();
    }
  }, 60_000);
});

describe.skipIf(!havePhi3Vocab)('tensorloom chat: Ctrl-C', () => {
  let dir: string;
  let path: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tl-cli-chat-'));
    path = join(dir, 'chatml.gguf');
    writeChatModel(path, { template: CHATML, rename: CHATML_RENAME });
    writeFileSync(join(dir, 'template.jinja'), CHATML);
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('stops the reply, not the program', async () => {
    const c = start(['-m', path, '-n', '480', '-c', '512', '-t', '1', '--chat-template-file', join(dir, 'template.jinja')]);
    c.write('Tell me a long story\n');
    await c.waitFor(/./);
    c.kill('SIGINT');
    await c.waitFor(/\(stopped\)/, 'stderr');
    c.write('/exit\n');
    expect(await c.exit).toBe(0);
  }, 60_000);
});
