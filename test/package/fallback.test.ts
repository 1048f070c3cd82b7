// When the addon cannot load at all, the library still works on the pure-JS backend and says
// so once, clearly. Each case runs in a child process, since the addon is loaded once per process.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const entry = pathToFileURL(join(repoRoot, 'ts', 'index.ts')).href;
const work = mkdtempSync(join(tmpdir(), 'tl-fallback-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `body` (TypeScript, with `tl` = the library) in a fresh Node; returns its stdout JSON and stderr. */
function child(body: string, env: Record<string, string>) {
  const file = join(work, `child-${Math.random().toString(36).slice(2)}.ts`);
  writeFileSync(file, `import * as tl from ${JSON.stringify(entry)};\n${body}\n`);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.TENSORLOOM_BACKEND; // the default choice is under test
  if (!('TENSORLOOM_ADDON' in env)) delete childEnv.TENSORLOOM_ADDON;
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: repoRoot, encoding: 'utf8', env: childEnv });
  if (r.status !== 0) throw new Error(`child exited with ${r.status}: ${r.stderr.slice(0, 2000)}`);
  return { out: JSON.parse(r.stdout) as Record<string, unknown>, stderr: r.stderr };
}

describe('pure-JS fallback when the addon cannot load', () => {
  const missing = join(work, 'no-such-dir', 'tensorloom.node');
  const body = `
    const first = tl.backendInfo();
    const second = tl.backendInfo();
    tl.getBackend(); tl.getBackend();
    let nativeError = '';
    try { tl.getBackend('native'); } catch (e) { nativeError = (e as Error).message; }
    console.log(JSON.stringify({ first, second, nativeError }));`;

  it('falls back to the js backend, warning once with the reason', () => {
    const { out, stderr } = child(body, { TENSORLOOM_ADDON: missing });
    expect(out.first).toMatchObject({ backend: 'js', isa: 'js' });
    expect((out.first as { fallbackReason: string }).fallbackReason).toContain(missing);
    expect(out.second).toEqual(out.first);
    const warnings = stderr.match(/tensorloom: the native addon could not be loaded/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect(stderr).toContain(missing);
    expect(stderr).toMatch(/using the pure-JS backend/);
    // Asking for native explicitly is an error that names the reason.
    expect(out.nativeError).toMatch(/native backend is not available/);
    expect(out.nativeError).toContain(missing);
  });

  it('also falls back when the file exists but is not a loadable addon', () => {
    const bogus = join(work, 'bogus.node');
    writeFileSync(bogus, 'not an ELF file');
    const { out, stderr } = child(body, { TENSORLOOM_ADDON: bogus });
    expect(out.first).toMatchObject({ backend: 'js' });
    expect(stderr.match(/tensorloom: the native addon could not be loaded/g) ?? []).toHaveLength(1);
  });

  it('stays silent when the addon loads', () => {
    const { out, stderr } = child(body, {});
    expect(out.first).toMatchObject({ backend: 'native' });
    expect(stderr).not.toMatch(/could not be loaded/);
  });
});
