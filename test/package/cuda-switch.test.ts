// `npm run build:cuda` on a machine without a CUDA toolkit must stop at configure time with a
// message that says what is missing and how to build without it — not a compiler error later.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;

describe.skipIf(!hasCmake)('build:cuda without a CUDA toolkit (needs cmake)', () => {
  const out = mkdtempSync(join(tmpdir(), 'tl-cuda-switch-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('fails at configure with a clear message', () => {
    // The package.json script, with its build dir moved to a temp dir (a cached CUDA compiler in
    // build-cuda/ would otherwise be reused).
    const script = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['build:cuda']!;
    expect(script).toMatch(/^cmake-js compile .*--CDTENSORLOOM_CUDA=ON/);
    const args = script.split(/\s+/).slice(2).map((a, i, all) => (all[i - 1] === '--out' ? out : a));
    expect(args).toContain(out);
    // Hide every nvcc: PATH entries holding one, and the variables CMake consults.
    const path = (process.env.PATH ?? '').split(delimiter).filter((d) => d && !existsSync(join(d, 'nvcc'))).join(delimiter);
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: path };
    for (const k of ['CUDACXX', 'CUDA_PATH', 'CUDA_HOME', 'CUDAToolkit_ROOT']) delete env[k];
    const r = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'cmake-js', 'bin', 'cmake-js'), 'configure', ...args], {
      cwd: repoRoot,
      env,
      encoding: 'utf8',
    });
    const output = r.stdout + r.stderr;
    expect(r.status).not.toBe(0);
    expect(output).toMatch(/TENSORLOOM_CUDA=ON but no CUDA toolkit was found/);
    expect(output).toMatch(/CPU-only addon/);
  });
});
