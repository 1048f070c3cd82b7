#!/usr/bin/env node
// Proves "one binary serves every x86-64 CPU": only the *_avx2 / *_avx512 objects may hold
// instructions beyond baseline x86-64 (SSE2), and nothing from them can replace generic code.
//
//   node scripts/check-isa.mjs [--build DIR] [--linked FILE] [--shipped FILE]
//
// DIR (default build/Release/obj.target) is searched for *.o files; an object whose name ends in
// _avx2.o / _avx512.o (also .cpp.o, as cmake names them) is an ISA object, every other is generic.
// Three checks, each needed for the claim to be sound:
//   1. generic objects: no instruction beyond baseline x86-64 (disassembled with objdump);
//   2. ISA objects: no weak / COMDAT code symbols (inline functions, template instances). The
//      linker keeps one copy of such a symbol for the whole binary; if it kept the AVX copy, generic
//      code calling it would die with "illegal instruction" on an older CPU. Strong and local
//      symbols cannot be swapped in for generic code, so the ISA code stays behind dispatch;
//   3. the linked addon: every function holding such instructions is one an ISA object defines;
//      and, with --shipped, the stripped prebuild's code is byte-identical to the checked binary.
// Exit 0 with a summary when all hold; exit 1 listing each offending function otherwise.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';

// ── what counts as "beyond baseline x86-64" ─────────────────────────────────────────────────
// VEX/EVEX encodings (AVX, AVX2, FMA, F16C, AVX-512) all print with a 'v' mnemonic (the only
// baseline 'v' instructions are verr/verw); AVX-512 mask instructions use %k registers.
const VEX_EVEX = /^v(?!err|erw)/;
const WIDE_REGS = /%(ymm|zmm)\d+|%k[0-7]\b/;
// Non-VEX extensions newer than SSE2 that a stray -march flag would let the compiler emit.
// (tzcnt is left out on purpose: GCC emits `rep bsf` for ctz in generic code, which objdump
// prints as tzcnt and which runs as bsf on CPUs without BMI.)
const OTHER_EXT = new RegExp(
  '^(' +
    [
      // SSE3 / SSSE3
      'addsubp[sd]', 'hadd[ps][sd]', 'hsubp[sd]', 'lddqu', 'movddup', 'movs[hl]dup', 'fisttp[slq]?',
      'pshufb', 'palignr', 'ph(add|sub)(w|d|sw)', 'pabs[bwd]', 'pmaddubsw', 'pmulhrsw', 'psign[bwd]',
      // SSE4.1 / SSE4.2
      'blendv?p[sd]', 'pblendvb', 'pblendw', 'dpp[sd]', 'insertps', 'extractps', 'mpsadbw', 'packusdw',
      'pcmpeqq', 'pextr[bdq]', 'pinsr[bdq]', 'pm(ax|in)(sb|sd|ud|uw)', 'pmov[sz]x(bw|bd|bq|wd|wq|dq)',
      'pmuldq', 'pmulld', 'ptest', 'round[ps][sd]', 'phminposuw', 'movntdqa',
      'pcmp[ei]str[im]', 'pcmpgtq', 'crc32[bwlq]?',
      // BMI1/2, LZCNT, POPCNT, MOVBE, ADX
      'andn[lq]?', 'bextr[lq]?', 'bls(i|msk|r)[lq]?', 'bzhi[lq]?', 'mulx[lq]?', 'pdep[lq]?', 'pext[lq]?',
      'rorx[lq]?', 's(ar|hl|hr)x[lq]?', 'lzcnt[wlq]?', 'popcnt[wlq]?', 'movbe[wlq]?', 'ad[co]x[lq]?',
    ].join('|') +
    ')$',
);

function beyondBaseline(mnemonic, operands) {
  return VEX_EVEX.test(mnemonic) || WIDE_REGS.test(operands) || OTHER_EXT.test(mnemonic);
}

// ── objdump / nm helpers ─────────────────────────────────────────────────────────────────────
function run(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Disassembles `file`; returns Map(function symbol → [{ mnemonic, operands }] beyond baseline). */
function extendedInstructions(file) {
  const out = run('objdump', ['-d', '--no-show-raw-insn', '--no-addresses', file]);
  const found = new Map();
  let fn = '(no symbol)';
  for (const line of out.split('\n')) {
    const head = /^<(.+)>:$/.exec(line);
    if (head) {
      fn = head[1];
      continue;
    }
    // Instruction lines are indented: "\tvmovups %ymm0,(%rdi)"; skip prefixes like "lock", "rep".
    if (!/^\s/.test(line) || line.trim() === '') continue;
    const words = line.trim().split(/\s+/);
    while (words.length > 1 && /^(lock|rep|repz|repnz|repe|repne|notrack|bnd|data16|addr32|cs|ds|es|ss|fs|gs)$/.test(words[0])) words.shift();
    const mnemonic = words[0] ?? '';
    const operands = words.slice(1).join(' ');
    if (mnemonic.startsWith('(bad)') || mnemonic.startsWith('...')) continue;
    if (beyondBaseline(mnemonic, operands)) {
      if (!found.has(fn)) found.set(fn, []);
      found.get(fn).push(`${mnemonic} ${operands}`.trim());
    }
  }
  return found;
}

/** Defined code symbols of an object: [{ name, kind }] with nm's kind letter (T, t, W, ...). */
function codeSymbols(file) {
  const out = run('nm', ['--defined-only', file]);
  const syms = [];
  for (const line of out.split('\n')) {
    const m = /^[0-9a-f]+ (\S) (.+)$/.exec(line);
    if (!m) continue;
    const kind = m[1];
    // T/t: code; W/w/V/v: weak (code or data); u: GNU unique. Data (D/d/B/b/R/r) cannot be run.
    if ('TtWwVvu'.includes(kind)) syms.push({ name: m[2], kind });
  }
  return syms;
}

function demangle(names) {
  if (!names.length) return [];
  try {
    return run('c++filt', names).trimEnd().split('\n');
  } catch {
    return names;
  }
}

function textHash(file) {
  const dir = mkdtempSync(join(tmpdir(), 'tl-isa-'));
  try {
    const out = join(dir, 'text.bin');
    execFileSync('objcopy', ['-O', 'binary', '--only-section=.text', file, out]);
    return createHash('sha256').update(readFileSync(out)).digest('hex');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function findFiles(dir, test, acc = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) findFiles(p, test, acc);
    else if (test(name)) acc.push(p);
  }
  return acc.sort();
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────
const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : fallback;
};
const buildDir = opt('--build', 'build/Release/obj.target');
const linked = opt('--linked', join(buildDir, 'tensorloom.node'));
const shipped = opt('--shipped', undefined);

if (process.arch !== 'x64') {
  console.log(`check-isa: nothing to check on ${process.arch} (the baseline/ISA split is x86-64's)`);
  process.exit(0);
}
if (!existsSync(buildDir)) {
  console.error(`check-isa: no build directory ${buildDir} (build the addon first: npx node-gyp rebuild)`);
  process.exit(2);
}

const ISA_OBJECT = /_(avx2|avx512)(\.cpp)?\.o$/;
const objects = findFiles(buildDir, (n) => n.endsWith('.o'));
const isaObjects = objects.filter((o) => ISA_OBJECT.test(basename(o)));
const genericObjects = objects.filter((o) => !ISA_OBJECT.test(basename(o)) && !/_neon(\.cpp)?\.o$/.test(basename(o)));
if (!genericObjects.length || !isaObjects.length) {
  console.error(`check-isa: expected generic and *_avx2/*_avx512 objects under ${buildDir}, found ${genericObjects.length} and ${isaObjects.length}`);
  process.exit(2);
}

const problems = [];
const rel = (p) => relative(process.cwd(), p);

// 1. generic objects hold only baseline instructions.
for (const obj of genericObjects) {
  const bad = extendedInstructions(obj);
  const names = demangle([...bad.keys()]);
  [...bad.values()].forEach((insns, i) =>
    problems.push(`generic object ${rel(obj)}: ${names[i]} uses ${insns.length} non-baseline instruction(s), e.g. '${insns[0]}'`),
  );
}

// 2. ISA objects define no weak / COMDAT code the linker could hand to generic code.
const isaDefined = new Set();
let isaExtended = 0;
for (const obj of isaObjects) {
  for (const s of codeSymbols(obj)) {
    if ('WwVvu'.includes(s.kind)) {
      problems.push(`ISA object ${rel(obj)}: weak symbol ${demangle([s.name])[0]} (kind ${s.kind}) — an inline function or template ` +
        'instance compiled with ISA flags; the linker may use it for generic code. Make it static inline or move it to a generic file.');
    } else {
      isaDefined.add(s.name);
    }
  }
  for (const insns of extendedInstructions(obj).values()) isaExtended += insns.length;
}

// 3. in the linked addon, non-baseline code lives only in functions the ISA objects define.
let linkedExtendedFns = 0;
if (existsSync(linked) && run('nm', ['--defined-only', linked]).trim() === '') {
  problems.push(`linked ${rel(linked)} has no symbol table (stripped): check the unstripped build and pass the stripped one as --shipped`);
} else if (existsSync(linked)) {
  const bad = extendedInstructions(linked);
  linkedExtendedFns = bad.size;
  const strays = [...bad.entries()].filter(([fn]) => !isaDefined.has(fn.replace(/@plt$/, '')));
  const names = demangle(strays.map(([fn]) => fn));
  strays.forEach(([, insns], i) =>
    problems.push(`linked ${rel(linked)}: ${names[i]} uses non-baseline instructions ('${insns[0]}') but no ISA object defines it`),
  );
} else {
  problems.push(`no linked addon at ${linked} (pass --linked)`);
}
if (shipped) {
  if (!existsSync(shipped)) problems.push(`no shipped binary at ${shipped}`);
  else if (textHash(shipped) !== textHash(linked)) {
    problems.push(`the code of ${rel(shipped)} differs from ${rel(linked)}: it is not the binary that was checked (rebuild both)`);
  }
}

if (problems.length) {
  console.error(`check-isa: FAILED (${problems.length} problem(s))`);
  for (const p of problems) console.error('  - ' + p);
  process.exit(1);
}
console.log(
  `check-isa: ok — ${genericObjects.length} generic objects are baseline x86-64; ${isaObjects.length} ISA objects hold ` +
    `${isaExtended} AVX instructions in strong/local symbols only; the linked addon's ${linkedExtendedFns} AVX functions all come from them` +
    (shipped ? `; ${rel(shipped)} has the same code` : ''),
);
