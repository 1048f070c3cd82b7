// Run-time CPU feature detection and the ISA cap.
// Kernels are compiled once per ISA (files *_avx2.cpp, *_avx512.cpp, *_neon.cpp get their own
// compiler flags) and each kernel family picks its variant with tl::active_isa() per call, so one
// binary runs on every x86-64 CPU. TENSORLOOM_ISA=scalar|avx2|avx512 (or set_isa_cap) lowers the
// ceiling so every path can be tested on one machine.
#pragma once

namespace tl {

enum class Isa : int { Scalar = 0, Neon = 1, Avx2 = 2, Avx512 = 3 };

// Best ISA this CPU (and this build) supports.
Isa detected_isa();
// detected_isa() lowered to the cap; what kernels dispatch on.
Isa active_isa();
// Lower (or restore) the ceiling. Returns false if the CPU cannot run `cap`.
bool set_isa_cap(Isa cap);
const char* isa_name(Isa isa);
// Parses "scalar" | "neon" | "avx2" | "avx512"; returns false on anything else.
bool parse_isa(const char* name, Isa* out);

}  // namespace tl
