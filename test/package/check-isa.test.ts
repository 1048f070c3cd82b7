// scripts/check-isa.mjs: the proof that the generic code of the addon is baseline x86-64.
// First the checker itself is shown to catch each way AVX code can leak into generic code (tiny
// objects compiled here with g++), then it is run on the real build.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const checker = join(repoRoot, 'scripts', 'check-isa.mjs');
const has = (tool: string) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const toolsPresent = process.arch === 'x64' && has('objdump') && has('nm') && has('g++');

function check(args: string[]) {
  const r = spawnSync(process.execPath, [checker, ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

// A vector loop the compiler turns into AVX code when allowed to.
const LOOP = 'for (int i = 0; i < n; i++) y[i] += a * x[i];';

describe.skipIf(!toolsPresent)('check-isa catches AVX code outside the ISA objects (needs x64, objdump, g++)', () => {
  const work = mkdtempSync(join(tmpdir(), 'tl-check-isa-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Compiles `files` (name → [source, flags]) into work/<name>/obj, links them into tensorloom.node. */
  function build(name: string, files: Record<string, [string, string[]]>, extraLinked: string[] = []) {
    const dir = join(work, name);
    mkdirSync(join(dir, 'obj'), { recursive: true });
    const objects: string[] = [];
    for (const [file, [source, flags]] of Object.entries(files)) {
      writeFileSync(join(dir, file), source);
      const obj = join(dir, 'obj', file.replace(/\.cpp$/, '.o'));
      const cc = spawnSync('g++', ['-O3', '-fPIC', '-c', ...flags, join(dir, file), '-o', obj], { encoding: 'utf8' });
      expect(cc.status, cc.stderr).toBe(0);
      objects.push(obj);
    }
    const linked = join(dir, 'obj', 'tensorloom.node');
    const ld = spawnSync('g++', ['-shared', '-o', linked, ...objects, ...extraLinked], { encoding: 'utf8' });
    expect(ld.status, ld.stderr).toBe(0);
    return { dir, args: ['--build', join(dir, 'obj'), '--linked', linked] };
  }

  const dispatch = `float axpy_avx2(float, const float*, float*, int);
    float run(float a, const float* x, float* y, int n) { return axpy_avx2(a, x, y, n); }`;
  const goodAvx2 = `float axpy_avx2(float a, const float* x, float* y, int n) { ${LOOP} return y[0]; }`;

  it('passes a correct split: generic dispatch code + a strong AVX2 function', () => {
    const { args } = build('good', { 'ops.cpp': [dispatch, []], 'ops_avx2.cpp': [goodAvx2, ['-mavx2', '-mfma']] });
    const r = check(args);
    expect(r.output).toMatch(/check-isa: ok/);
    expect(r.output).toMatch(/AVX functions all come from them/);
    expect(r.status).toBe(0);
  });

  it('fails when a generic object was compiled with AVX flags', () => {
    const { args } = build('generic-avx', {
      'ops.cpp': [`void scale(float a, const float* x, float* y, int n) { ${LOOP} }`, ['-mavx2']],
      'ops_avx2.cpp': [goodAvx2, ['-mavx2']],
    });
    const r = check(args);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/generic object .*ops\.o: scale\(float, float const\*, float\*, int\) uses \d+ non-baseline/);
  });

  it('fails when an ISA object defines an inline (weak) function the linker could share with generic code', () => {
    const header = `inline float dot(const float* x, const float* y, int n) { float s = 0; for (int i = 0; i < n; i++) s += x[i] * y[i]; return s; }`;
    const { args } = build('weak', {
      'ops.cpp': [`${header}\nfloat generic_dot(const float* x, const float* y, int n) { return dot(x, y, n); }`, ['-fno-inline']],
      'ops_avx2.cpp': [`${header}\nfloat dot_avx2(const float* x, const float* y, int n) { return dot(x, y, n); }`, ['-mavx2', '-fno-inline']],
    });
    const r = check(args);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/ISA object .*ops_avx2\.o: weak symbol dot\(float const\*, float const\*, int\)/);
  });

  it('fails when the linked addon holds AVX code that no ISA object defines', () => {
    const stray = join(work, 'stray.o');
    writeFileSync(join(work, 'stray.cpp'), `void stray(float a, const float* x, float* y, int n) { ${LOOP} }`);
    expect(spawnSync('g++', ['-O3', '-fPIC', '-mavx2', '-c', join(work, 'stray.cpp'), '-o', stray]).status).toBe(0);
    const { args } = build('stray', { 'ops.cpp': [dispatch, []], 'ops_avx2.cpp': [goodAvx2, ['-mavx2']] }, [stray]);
    const r = check(args);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/linked .*tensorloom\.node: stray\(float, float const\*, float\*, int\) uses non-baseline instructions/);
  });

  it('fails when the shipped binary is not the one that was checked', () => {
    const { dir, args } = build('shipped', { 'ops.cpp': [dispatch, []], 'ops_avx2.cpp': [goodAvx2, ['-mavx2']] });
    const other = build('other', { 'ops.cpp': [dispatch + '\nint extra() { return 42; }', []], 'ops_avx2.cpp': [goodAvx2, ['-mavx2']] });
    expect(check([...args, '--shipped', join(dir, 'obj', 'tensorloom.node')]).status).toBe(0);
    const r = check([...args, '--shipped', other.args[3]!]);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/is not the binary that was checked/);
  });
});

const objDir = join(repoRoot, 'build', 'Release', 'obj.target');
const builtHere = existsSync(join(objDir, 'tensorloom.node'));
describe.skipIf(!toolsPresent || !builtHere)('the node-gyp build of this checkout (needs build/Release/obj.target from node-gyp)', () => {
  it('has baseline-only generic code and AVX code only behind dispatch', () => {
    const r = check([]);
    expect(r.output).toMatch(/check-isa: ok/);
    expect(r.status).toBe(0);
  });
});
