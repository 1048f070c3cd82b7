#!/usr/bin/env node
// npm run prebuild: builds the binary that ships in the npm tarball.
//   1. prebuildify --napi --strip --tag-libc  → prebuilds/<platform>-<arch>/tensorloom.<libc>.node
//      (one N-API binary for every Node version >= 20; node-gyp-build picks it at install time);
//   2. on x86-64, scripts/check-isa.mjs over the build's objects and the stripped binary: generic
//      code is baseline x86-64, AVX code only in the dispatched *_avx2/*_avx512 objects;
//   3. prints its size and the glibc / libstdc++ symbol versions it needs (the floor the README states).
// `--verify` (run by prepack) only checks that a binary exists and is newer than the native sources.
// Note: npm also runs this before `npm run build` (a "pre" script); that build uses this binary.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const node = process.execPath;
const dir = join('prebuilds', `${process.platform}-${process.arch}`);
const prebuilt = () => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : []);

// --verify (npm's prepack): the tarball must not ship without a binary, nor with a stale one.
if (process.argv.includes('--verify')) {
  const [bin] = prebuilt();
  if (!bin) {
    console.error(`prepack: no prebuilt binary in ${dir}/ — run 'npm run prebuild' before packing`);
    process.exit(1);
  }
  const built = statSync(join(dir, bin)).mtimeMs;
  const sources = ['binding.gyp', ...['native/kernels', 'native/binding'].flatMap((d) => readdirSync(d).map((f) => join(d, f)))];
  const newer = sources.filter((f) => statSync(f).mtimeMs > built);
  if (newer.length) {
    console.error(`prepack: ${dir}/${bin} is older than ${newer.slice(0, 3).join(', ')}${newer.length > 3 ? ', …' : ''} — run 'npm run prebuild' again`);
    process.exit(1);
  }
  process.exit(0);
}

const run = (args, env = process.env) => execFileSync(node, args, { stdio: 'inherit', env });

// Build against this Node's own headers when they are installed beside it (no header download;
// N-API binaries do not depend on the version they were built with). Otherwise node-gyp fetches them.
const env = { ...process.env };
const prefix = dirname(dirname(node));
if (!env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
run([require.resolve('prebuildify/bin.js'), '--napi', '--strip', '--tag-libc', '--target', `node@${process.versions.node}`], env);

const binaries = prebuilt();
if (binaries.length !== 1) {
  console.error(`prebuild: expected one .node in ${dir}, found ${binaries.length ? binaries.join(', ') : 'none'}`);
  process.exit(1);
}
const shipped = join(dir, binaries[0]);

if (process.platform === 'linux' && process.arch === 'x64') {
  // gyp hard-links build/Release/tensorloom.node to obj.target/tensorloom.node, so prebuildify's
  // strip stripped both. Relink an unstripped twin from the same objects (a link step only), check
  // it — the checker also proves its code is byte-identical to the shipped binary — and drop the
  // Release copy so this checkout loads the prebuild like an installed package does.
  const objDir = join('build', 'Release', 'obj.target');
  rmSync(join(objDir, 'tensorloom.node'), { force: true });
  run([require.resolve('node-gyp/bin/node-gyp.js'), 'build'], env);
  rmSync(join('build', 'Release', 'tensorloom.node'), { force: true });
  run(['scripts/check-isa.mjs', '--build', objDir, '--linked', join(objDir, 'tensorloom.node'), '--shipped', shipped]);
}

let floor = '';
if (process.platform === 'linux') {
  try {
    const dyn = execFileSync('objdump', ['-T', shipped], { encoding: 'utf8' });
    const newest = (prefix) =>
      [...new Set(dyn.match(new RegExp(`\\b${prefix}_[0-9.]+`, 'g')) ?? [])]
        .map((v) => v.slice(prefix.length + 1))
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .pop();
    floor = `; needs GLIBC_${newest('GLIBC')}` + (newest('GLIBCXX') ? ` and GLIBCXX_${newest('GLIBCXX')}` : '');
  } catch {
    floor = '; (objdump not found: symbol versions not checked)';
  }
}
console.log(`prebuild: ${shipped} (${(statSync(shipped).size / 1024).toFixed(0)} KiB${floor})`);
