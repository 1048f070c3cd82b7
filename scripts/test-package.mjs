#!/usr/bin/env node
// npm run test:package — the tarball a user gets, installed and used the way a user would.
//   0. npm pack: the tarball holds dist (ESM, CJS, .d.ts), prebuilds/, native sources, binding.gyp,
//      CMakeLists.txt, scripts/native-sources.cjs, README, LICENSE — and no tests, fixtures, benches;
//   a. installed with no compiler on PATH: imported from ESM and CJS, the CLI runs, a model generates
//      (stories260K from ../shared when present), and the prebuilt binary is the one loaded; with no
//      other file on disk, `npx tensorloom generate` and loadModel() use the built-in default model
//      (models/stories260K.gguf, in the tarball) and the README quick start runs as written;
//   b. the same tarball without prebuilds/: the install builds from source (node-gyp) and works;
//   c. a TypeScript consumer (ESM and CJS) type-checks against the public types, and a wrong use fails.
// Dependencies come from the local npm cache when it has them (--prefer-offline). Needs
// `npm run prebuild` first. Keep it quick: one source build, no test suite inside.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');
// ../shared beside the checkout (../../shared from a worktree under wt/).
const shared = [join(repo, '..', 'shared'), join(repo, '..', '..', 'shared')].find((p) => existsSync(p)) ?? join(repo, '..', 'shared');
const keep = process.argv.includes('--keep');
const work = mkdtempSync(join(tmpdir(), 'tl-package-'));
const t0 = Date.now();
const failures = [];

function log(msg) {
  console.log(`[test:package ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${msg}`);
}
function check(ok, what) {
  if (ok) log(`ok   ${what}`);
  else {
    log(`FAIL ${what}`);
    failures.push(what);
  }
  return ok;
}
/** Runs a command; returns { status, out } (stdout + stderr). Throws only if it cannot start. */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout ?? '', out: (r.stdout ?? '') + (r.stderr ?? '') };
}
function must(r, what) {
  if (r.status !== 0) {
    console.error(r.out.slice(-6000));
    throw new Error(`${what} failed (exit ${r.status})`);
  }
  return r.out;
}

// A PATH with node, npm, a shell and basic tools only: no cc, c++, g++, gcc, make or python3 that
// a failed prebuild could fall back on.
function compilerFreePath() {
  const bin = join(work, 'bin-nocc');
  mkdirSync(bin);
  const which = (t) => spawnSync('sh', ['-c', `command -v ${t}`], { encoding: 'utf8' }).stdout.trim();
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(realpathSync(which('npm')), join(bin, 'npm'));
  if (which('npx')) symlinkSync(realpathSync(which('npx')), join(bin, 'npx'));
  const tools = ['sh', 'bash', 'env', 'uname', 'cat', 'ls', 'rm', 'mkdir', 'cp', 'mv', 'chmod', 'ln', 'true', 'false', 'dirname', 'basename', 'sed', 'grep', 'tar', 'gzip'];
  for (const t of tools) if (which(t)) symlinkSync(which(t), join(bin, t));
  return bin;
}

const baseEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
for (const k of Object.keys(baseEnv)) if (k.startsWith('TENSORLOOM_')) delete baseEnv[k];
baseEnv.JOBS ??= 'max'; // node-gyp: compile on every core in (b)
// node-gyp (source build in b) uses this Node's own headers when installed beside it.
const nodePrefix = dirname(dirname(process.execPath));
if (!baseEnv.npm_config_nodedir && existsSync(join(nodePrefix, 'include', 'node', 'node_api.h'))) baseEnv.npm_config_nodedir = nodePrefix;

function install(dir, tarball, env) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }) + '\n');
  return sh('npm', ['install', '--prefer-offline', '--no-package-lock', '--foreground-scripts', tarball], { cwd: dir, env });
}

// What every install must do: ESM + CJS imports agree, the CLI starts, the model generates.
const SMOKE = (kind) => `
${kind === 'esm' ? "import * as tl from 'tensorloom';" : "const tl = require('tensorloom');"}
const shared = process.env.TL_SHARED;
async function main() {
  const info = tl.backendInfo();
  const out = { kind: '${kind}', info, exports: Object.keys(tl).sort() };
  // No path: the built-in default model that ships in the package.
  const builtIn = await tl.loadModel();
  try {
    out.defaultPath = builtIn.info.path;
    out.defaultText = (await builtIn.generate('Once upon a time', { maxTokens: 20, temperature: 0 })).text;
  } finally {
    await builtIn.dispose();
  }
  if (shared) {
    // Greedy from BOS; the model runs in a worker thread (the CJS build spawns its own worker file).
    const model = await tl.loadModel(shared + '/models/stories260K/stories260K.bin');
    try {
      out.text = (await model.generate('', { maxTokens: 24, temperature: 0 })).text;
    } finally {
      await model.dispose();
    }
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;

function smoke(dir, env, label) {
  writeFileSync(join(dir, 'smoke.mjs'), SMOKE('esm'));
  writeFileSync(join(dir, 'smoke.cjs'), SMOKE('cjs'));
  const results = [];
  for (const file of ['smoke.mjs', 'smoke.cjs']) {
    const r = sh('node', [file], { cwd: dir, env: { ...env, TL_SHARED: existsSync(shared) ? shared : '' } });
    if (!check(r.status === 0, `${label}: node ${file} runs`)) {
      console.error(r.out.slice(-4000));
      continue;
    }
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()));
    check(!/could not be loaded/.test(r.out), `${label}: ${file} loads the addon without a fallback warning`);
  }
  if (results.length === 2) {
    const [esm, cjs] = results;
    check(JSON.stringify(esm.exports) === JSON.stringify(cjs.exports), `${label}: ESM and CJS export the same names (${esm.exports.length})`);
    check(esm.info.backend === 'native' && cjs.info.backend === 'native', `${label}: native backend (${esm.info.isa}, ${esm.info.threads} threads)`);
    // stories260K's greedy continuation of "Once upon a time" (llama2.c's model; see DESIGN.md).
    check(/^, there was a little girl named Lily\./.test(String(esm.defaultText)), `${label}: loadModel() with no path uses the built-in stories260K: ${JSON.stringify(esm.defaultText)}`);
    check(esm.defaultText === cjs.defaultText && /node_modules\/tensorloom\/models\/stories260K\.gguf$/.test(String(cjs.defaultPath)), `${label}: the CJS build finds the same built-in model (${cjs.defaultPath})`);
    if (existsSync(shared)) {
      // DESIGN.md: greedy decoding of stories260K from BOS begins with this sentence.
      check(/^Once upon a time, there was a little girl named Lily\./.test(String(esm.text).trim()), `${label}: stories260K greedy text (ESM, model in a worker): ${JSON.stringify(esm.text)}`);
      check(esm.text === cjs.text, `${label}: the CJS build generates the same text`);
    } else {
      log(`note ${label}: no ../shared beside the checkout: generation not exercised`);
    }
  }
  return results[0];
}

// The README's quick start, as shipped in the tarball: run it, ask it for a story over HTTP.
async function quickStart(dir, installed, env) {
  const readme = readFileSync(join(installed, 'README.md'), 'utf8');
  const block = /<!-- quickstart[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme);
  if (!check(block !== null, '(a) README has the quick-start block')) return;
  // The quick start must run right after install: loadModel() with no path (the built-in model).
  if (!check(/loadModel\(\)/.test(block[1]) && !/loadModel\('\.\//.test(block[1]), '(a) the quick start uses the built-in model (loadModel() with no file)')) return;
  writeFileSync(join(dir, 'quickstart.mjs'), block[1]);
  const port = await new Promise((res) => {
    const srv = createNetServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => res(p));
    });
  });
  const child = spawn('node', ['quickstart.mjs'], { cwd: dir, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}/?prompt=Once%20upon%20a%20time`;
  try {
    // A client that leaves after the first chunk (the server must stop that generation and live on)...
    let first = null;
    for (let i = 0; i < 150 && first === null && child.exitCode === null; i++) {
      const leave = new AbortController();
      try {
        const r = await fetch(url, { signal: leave.signal });
        first = new TextDecoder().decode((await r.body.getReader().read()).value ?? new Uint8Array());
        leave.abort();
      } catch {
        await new Promise((r) => setTimeout(r, 200)); // not listening yet (the model loads first)
      }
    }
    check(first !== null && first.length > 0, `(a) the README quick start streams a first chunk: ${JSON.stringify(first)}`);
    // ...then a whole story for the next one.
    let body = '';
    let status = 0;
    try {
      const r = await fetch(url);
      status = r.status;
      body = await r.text();
    } catch (err) {
      body = String(err);
    }
    if (!check(status === 200 && body.trim().split(/\s+/).length >= 3 && !body.includes('[error'), `(a) and after that client left, serves a whole story: ${JSON.stringify(body.slice(0, 60))}…`)) {
      console.error(stderr.slice(-3000));
    }
  } finally {
    child.kill();
  }
}

try {
  // ── 0. the tarball ─────────────────────────────────────────────────────────────────────────
  const prebuildDir = join(repo, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(prebuildDir) || !readdirSync(prebuildDir).some((f) => f.endsWith('.node'))) {
    throw new Error(`no prebuilt binary in ${prebuildDir}: run 'npm run prebuild' first`);
  }
  log(`packing ${repo} into ${work}`);
  const packed = sh('npm', ['pack', '--json', '--pack-destination', work], { cwd: repo, env: baseEnv });
  must(packed, 'npm pack');
  // stdout: the prepack script's output, then npm's JSON.
  const pack = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[/m)))[0];
  const tarball = join(work, pack.filename);
  const files = pack.files.map((f) => f.path);
  const need = [
    'package.json', 'README.md', 'LICENSE', 'binding.gyp', 'CMakeLists.txt', 'scripts/native-sources.cjs',
    'dist/esm/index.js', 'dist/esm/index.d.ts', 'dist/cjs/index.cjs', 'dist/cjs/index.d.ts', 'dist/esm/cli.js', 'models/stories260K.gguf',
    `prebuilds/${process.platform}-${process.arch}/${readdirSync(prebuildDir).find((f) => f.endsWith('.node'))}`,
  ];
  for (const f of need) check(files.includes(f), `tarball has ${f}`);
  const nativeSources = execFileSync('node', [join(repo, 'scripts/native-sources.cjs'), 'base'], { encoding: 'utf8' }).trim().split('\n');
  check(nativeSources.every((f) => files.includes(f)), `tarball has all ${nativeSources.length} generic native sources`);
  const forbidden = files.filter((f) => /^(test|bench|docs|tools|\.ci)\/|(^|\/)fixtures?\/|\.test\.|\.map$|^build|^ts\//.test(f));
  check(forbidden.length === 0, `tarball has no tests, fixtures, benches, source maps or build dirs${forbidden.length ? ': ' + forbidden.slice(0, 5).join(', ') : ''}`);
  log(`tarball ${pack.filename}: ${(pack.size / 1024).toFixed(0)} KiB packed, ${(pack.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${pack.entryCount} files`);

  // ── a. prebuilt binary, no compiler ───────────────────────────────────────────────────────
  const noccBin = compilerFreePath();
  const noccEnv = { ...baseEnv, PATH: noccBin };
  const noCompiler = ['cc', 'c++', 'gcc', 'g++', 'make', 'python3', 'python'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { env: noccEnv }).status === 0);
  check(noCompiler.length === 0, `PATH for (a) has node and npm but no compiler, make or python${noCompiler.length ? ' (found ' + noCompiler.join(', ') + ')' : ''}`);
  const a = join(work, 'a');
  must(install(a, tarball, noccEnv), '(a) npm install of the tarball without a compiler');
  const installedA = join(a, 'node_modules', 'tensorloom');
  check(!existsSync(join(installedA, 'build')), '(a) no source build happened (no build/ in the installed package)');
  const resA = smoke(a, noccEnv, '(a) prebuilt');
  if (resA) {
    const expected = realpathSync(join(installedA, 'prebuilds', `${process.platform}-${process.arch}`));
    check(typeof resA.info.addonPath === 'string' && realpathSync(resA.info.addonPath).startsWith(expected + '/'), `(a) the prebuild is the binary loaded: ${resA.info.addonPath}`);
  }
  await quickStart(a, installedA, noccEnv);
  // The first thing a new user types, in a folder with nothing but the installed package.
  const first = sh('npx', ['tensorloom', 'generate', '--prompt', 'Once upon a time', '--max-tokens', '20', '--temperature', '0'], {
    cwd: a,
    env: { ...noccEnv, TENSORLOOM_CACHE: join(work, 'empty-cache'), HF_ENDPOINT: 'http://127.0.0.1:9' },
  });
  if (!check(first.status === 0 && /^, there was a little girl named Lily\./.test(first.stdout), `(a) npx tensorloom generate --prompt "Once upon a time" --max-tokens 20 --temperature 0 (no --model, no other file): ${JSON.stringify(first.stdout.trim())}`)) console.error(first.out.slice(-3000));
  check(/using the built-in stories260K/.test(first.out), '(a) ... and says on stderr that it uses the built-in model');
  const cli = sh(join(a, 'node_modules', '.bin', 'tensorloom'), ['--help'], { cwd: a, env: noccEnv });
  check(cli.status === 0 && /usage: tensorloom <command>/.test(cli.out), '(a) the tensorloom CLI (bin) runs: tensorloom --help');

  // ── c. TypeScript consumers type-check (in a, where the package is installed) ─────────────
  // Node16 resolution is the strict one: there a CJS file may not `require` a package whose
  // `require` types are ES modules, so it proves exports["."].require.types is CommonJS.
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  // One tsc run: the ESM and CJS consumers must be clean, and the one deliberate mistake in
  // wrong.mts must be the only error (the types are real, not any).
  writeFileSync(join(a, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: 'Node16', moduleResolution: 'Node16', target: 'ES2022', skipLibCheck: false, types: ['node'], typeRoots: [join(repo, 'node_modules', '@types')] },
    files: ['use.mts', 'use.cts', 'wrong.mts'],
  }));
  const USE = `
    const info: BackendInfo = backendInfo();
    const backend: 'native' | 'js' = info.backend;
    const isa: IsaName | 'js' = info.isa;
    const threads: number = setThreads(1);
    export const summary = [backend, isa, threads, getBackend('js').name];
    export async function story(path: string, signal: AbortSignal): Promise<string> {
      const model: Model = await loadModel(path, { threads: 1, worker: true });
      const result: GenerateResult = await model.generate('Once', { maxTokens: 8, temperature: 0, topK: 40, stop: ['.'], signal });
      let streamed: string = '';
      for await (const chunk of model.stream('Lily', { maxTokens: 8, seed: 1 })) streamed += chunk;
      const why: 'stop' | 'length' = result.finishReason;
      await model.dispose();
      return result.text + streamed + why + result.usage.completionTokens.toFixed(0);
    }`;
  const names = 'backendInfo, getBackend, setThreads, loadModel';
  const types = 'BackendInfo, IsaName, Model, GenerateResult';
  writeFileSync(join(a, 'use.mts'), `import { ${names}, ${types.split(', ').map((t) => 'type ' + t).join(', ')} } from 'tensorloom';\n${USE}\n`);
  writeFileSync(join(a, 'use.cts'), `import tl = require('tensorloom');\nimport { ${names} } from 'tensorloom';\n${types.split(', ').map((t) => `type ${t} = tl.${t};`).join(' ')}\n${USE}\n`);
  writeFileSync(join(a, 'wrong.mts'), `import { backendInfo } from 'tensorloom';\nexport const n: number = backendInfo().backend;\n`);
  const tscRun = sh('node', [tsc, '-p', 'tsconfig.json'], { cwd: a, env: baseEnv });
  const errors = tscRun.out.split('\n').filter((l) => /error TS\d+/.test(l));
  if (!check(errors.every((l) => l.startsWith('wrong.mts')), '(c) ESM (.mts) and CJS (.cts) consumers type-check against the public types (Node16 resolution)')) console.error(tscRun.out);
  check(errors.length === 1 && /^wrong\.mts\(2,14\): error TS2322/.test(errors[0] ?? ''), `(c) a wrong use is rejected (the types are real, not any): ${errors.find((l) => l.startsWith('wrong')) ?? 'no error'}`);

  // ── b. no prebuild for this platform: source build ────────────────────────────────────────
  const src = join(work, 'b-src');
  mkdirSync(src);
  must(sh('tar', ['xzf', tarball, '-C', src]), 'unpacking the tarball');
  rmSync(join(src, 'package', 'prebuilds'), { recursive: true, force: true });
  const tarballB = join(work, 'tensorloom-no-prebuilds.tgz');
  must(sh('tar', ['czf', tarballB, '-C', src, 'package']), 'repacking without prebuilds');
  const b = join(work, 'b');
  const tb = Date.now();
  const instB = install(b, tarballB, baseEnv);
  if (!check(instB.status === 0, `(b) npm install without prebuilds/ succeeds (${((Date.now() - tb) / 1000).toFixed(0)}s)`)) console.error(instB.out.slice(-6000));
  const installedB = join(b, 'node_modules', 'tensorloom');
  check(existsSync(join(installedB, 'build', 'Release', 'tensorloom.node')), '(b) a source build happened: build/Release/tensorloom.node');
  check(!existsSync(join(installedB, 'prebuilds')), '(b) the installed package has no prebuilds/');
  const resB = smoke(b, baseEnv, '(b) source build');
  if (resB) {
    check(realpathSync(resB.info.addonPath ?? '/') === realpathSync(join(installedB, 'build', 'Release', 'tensorloom.node')), `(b) the source-built binary is the one loaded: ${resB.info.addonPath}`);
  }
} catch (err) {
  failures.push(err instanceof Error ? err.message : String(err));
  log(`FAIL ${failures.at(-1)}`);
} finally {
  if (keep) log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}

log(failures.length ? `FAILED: ${failures.length} check(s)` : 'all checks passed');
process.exit(failures.length ? 1 : 0);
