// Run-time CPU feature detection and the ISA cap.
// Kernels are compiled once per ISA (files *_avx2.cpp, *_avx512.cpp, *_neon.cpp get their own
// compiler flags) and each kernel family picks its variant with tl::active_isa() per call, so one
// binary runs on every x86-64 CPU. TENSORLOOM_ISA=scalar|avx2|avx512|avx512vnni (or set_isa_cap)
// lowers the ceiling so every path can be tested on one machine.
//
// AVX-512 VNNI (vpdpbusd) is a level above AVX-512 that only the integer dot products of the
// quantized weight types use; AVX-512 BF16 (vdpbf16ps, with VNNI: Zen 4/5, Sapphire Rapids, Cooper
// Lake) the level above it, used only by the GEMM of bf16 weights. active_isa() / detected_isa()
// never return either (so a kernel family's `case Isa::Avx512` keeps covering those CPUs); ask
// active_vnni() / active_bf16_dot(), or the *_level() functions. Ice Lake's additions to AVX-512
// that a few GEMV kernels use, VBMI (vpmultishiftqb) and GFNI (vgf2p8affineqb; Zen 4/5, Ice Lake
// and later have both), are not a level of their own (Cooper Lake has BF16 without them, Ice Lake
// the reverse): the weight-type table picks a type's Ice Lake GEMV kernel (dotw4_icelake) where the
// CPU has them and the cap is at the top level, so capping at avx512vnni runs (and tests) the VNNI
// kernel instead.
#pragma once

namespace tl {

enum class Isa : int { Scalar = 0, Neon = 1, Avx2 = 2, Avx512 = 3, Avx512Vnni = 4, Avx512Bf16 = 5 };

// Best ISA this CPU (and this build) supports, at most Avx512.
Isa detected_isa();
// detected_isa() lowered to the cap, at most Avx512; what kernels dispatch on.
Isa active_isa();
// The same including the Avx512Vnni / Avx512Bf16 levels (what backendInfo reports).
Isa detected_isa_level();
Isa active_isa_level();
// True when the CPU has AVX-512 VNNI and the cap allows it.
bool active_vnni();
// True when the CPU has AVX-512 BF16 (vdpbf16ps) and the cap allows it.
bool active_bf16_dot();
// True when the CPU has AVX-512 VNNI and VBMI and GFNI and the cap is the top level (avx512bf16).
bool active_icelake();
// Lower (or restore) the ceiling. Returns false if the CPU cannot run `cap`.
bool set_isa_cap(Isa cap);
const char* isa_name(Isa isa);
// Parses "scalar" | "neon" | "avx2" | "avx512" | "avx512vnni" | "avx512bf16"; false on anything else.
bool parse_isa(const char* name, Isa* out);

}  // namespace tl
