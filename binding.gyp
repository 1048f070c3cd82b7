{
  # One list of sources (scripts/native-sources.cjs) serves this file and CMakeLists.txt.
  # Generic code is compiled for baseline x86-64; only *_avx2.cpp / *_avx512.cpp files get
  # ISA flags, in their own static libraries, and are picked at run time (native/kernels/cpu.cpp).
  "variables": {
    "common_cflags": ["-O3", "-fno-math-errno", "-fPIC", "-Wall", "-Wno-unused-function"],
  },
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["<@(common_cflags)", "-std=c++17", "-fexceptions"],
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "OTHER_CPLUSPLUSFLAGS": ["<@(common_cflags)"],
    },
  },
  "targets": [
    {
      "target_name": "tensorloom",
      "sources": ["<!@(node scripts/native-sources.cjs base)"],
      "conditions": [
        ["target_arch=='x64'", { "dependencies": ["tensorloom_avx2", "tensorloom_avx512"], "defines": ["TL_HAVE_X86_VARIANTS=1"] }],
        ["target_arch=='arm64'", { "dependencies": ["tensorloom_neon"], "defines": ["TL_HAVE_NEON_VARIANTS=1"] }],
        ["OS=='linux'", { "libraries": ["-lpthread", "-ldl"] }],
      ],
    },
    {
      "target_name": "tensorloom_avx2",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.cjs avx2)"],
      "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx2", "-mfma", "-mf16c"] },
    },
    {
      "target_name": "tensorloom_avx512",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.cjs avx512)"],
      "cflags_cc": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"],
      "xcode_settings": { "OTHER_CPLUSPLUSFLAGS": ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq", "-mavx2", "-mfma", "-mf16c"] },
    },
    {
      "target_name": "tensorloom_neon",
      "type": "static_library",
      "sources": ["<!@(node scripts/native-sources.cjs neon)"],
    },
  ],
}
