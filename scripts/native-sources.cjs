#!/usr/bin/env node
// The one list of native sources, shared by binding.gyp and CMakeLists.txt.
// Usage: node scripts/native-sources.cjs <group>   (prints paths relative to the repo root)
//   base    generic C++ compiled for baseline x86-64 / arm64 (no ISA flags)
//   avx2    files named *_avx2.cpp   (compiled with -mavx2 -mfma -mf16c)
//   avx512  files named *_avx512.cpp (compiled with AVX-512 F/BW/VL/DQ + FMA + F16C)
//   neon    files named *_neon.cpp   (arm64 only)
//   cuda    native/cuda/*.cu and *.cpp (only with the CUDA switch)
'use strict';
const fs = require('fs');
const path = require('path');
const root = path.join(__dirname, '..');
const list = (dir) =>
  fs.existsSync(path.join(root, dir))
    ? fs.readdirSync(path.join(root, dir)).filter((f) => /\.(cpp|cu)$/.test(f)).sort().map((f) => `${dir}/${f}`)
    : [];
const isa = (f) => (/_(avx2|avx512|neon)\.cpp$/.exec(f) || [])[1] || 'base';
const cpu = [...list('native/kernels'), ...list('native/binding')];
const group = process.argv[2] || 'base';
const out = group === 'cuda' ? list('native/cuda') : cpu.filter((f) => isa(f) === group);
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
