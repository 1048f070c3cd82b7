#include "kernels/cpu.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace tl {

static Isa detect() {
#if defined(TL_HAVE_X86_VARIANTS) && (defined(__x86_64__) || defined(_M_X64))
  __builtin_cpu_init();
  // libgcc's checks include the OS's XSAVE state (xgetbv), so a kernel that masks AVX-512 is honoured.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
  {
    if (!__builtin_cpu_supports("avx512vnni")) return Isa::Avx512;
    return __builtin_cpu_supports("avx512bf16") ? Isa::Avx512Bf16 : Isa::Avx512Vnni;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"))
    return Isa::Avx2;
  return Isa::Scalar;
#elif defined(TL_HAVE_NEON_VARIANTS) && defined(__aarch64__)
  return Isa::Neon;  // Advanced SIMD is mandatory on arm64.
#else
  return Isa::Scalar;
#endif
}

static Isa initial_cap() {
  const char* env = std::getenv("TENSORLOOM_ISA");
  Isa cap = Isa::Avx512Bf16;
  if (env && *env && !parse_isa(env, &cap)) cap = Isa::Avx512Bf16;  // unknown value: ignore (TS layer warns)
  return cap;
}

static const Isa g_detected = detect();
static bool detect_icelake() {
#if defined(TL_HAVE_X86_VARIANTS) && (defined(__x86_64__) || defined(_M_X64))
  return g_detected >= Isa::Avx512Vnni && __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni");
#else
  return false;
#endif
}
static const bool g_icelake = detect_icelake();
static std::atomic<int> g_cap{static_cast<int>(initial_cap())};

static Isa clamp_avx512(Isa i) { return i == Isa::Avx512Vnni || i == Isa::Avx512Bf16 ? Isa::Avx512 : i; }

Isa detected_isa_level() { return g_detected; }
Isa detected_isa() { return clamp_avx512(g_detected); }

Isa active_isa_level() {
  int cap = g_cap.load(std::memory_order_relaxed);
  int det = static_cast<int>(g_detected);
  return static_cast<Isa>(cap < det ? cap : det);
}
Isa active_isa() { return clamp_avx512(active_isa_level()); }
bool active_vnni() { return active_isa_level() >= Isa::Avx512Vnni; }
bool active_bf16_dot() { return active_isa_level() == Isa::Avx512Bf16; }
bool active_icelake() { return g_icelake && g_cap.load(std::memory_order_relaxed) >= static_cast<int>(Isa::Avx512Bf16); }

bool set_isa_cap(Isa cap) {
  // Neon and the x86 variants live on different architectures: a cap of another family means scalar.
  const auto is_x86 = [](Isa i) { return i == Isa::Avx2 || i == Isa::Avx512 || i == Isa::Avx512Vnni || i == Isa::Avx512Bf16; };
  if ((cap == Isa::Neon && is_x86(g_detected)) || (is_x86(cap) && g_detected == Isa::Neon)) {
    g_cap.store(static_cast<int>(Isa::Scalar));
    return false;
  }
  g_cap.store(static_cast<int>(cap));
  return static_cast<int>(cap) <= static_cast<int>(g_detected);
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Neon: return "neon";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Vnni: return "avx512vnni";
    case Isa::Avx512Bf16: return "avx512bf16";
  }
  return "scalar";
}

bool parse_isa(const char* name, Isa* out) {
  static const struct { const char* n; Isa i; } table[] = {
      {"scalar", Isa::Scalar}, {"neon", Isa::Neon}, {"avx2", Isa::Avx2}, {"avx512", Isa::Avx512}, {"avx512vnni", Isa::Avx512Vnni},
      {"avx512bf16", Isa::Avx512Bf16}};
  for (const auto& e : table)
    if (std::strcmp(name, e.n) == 0) { *out = e.i; return true; }
  return false;
}

}  // namespace tl
