// Picks the active ISA's quantized GEMM tile kernel (qgemm.h) for a weight type.
#include "kernels/qgemm.h"

#include <cstdlib>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/weight_types.h"

namespace tl {

QgemmTileFn qgemm_tile(int type_id) {
  // TENSORLOOM_QGEMM=0 keeps every M on the dot kernels (to measure what the tiles gain)
  static const bool disabled = [] {
    const char* v = std::getenv("TENSORLOOM_QGEMM");
    return v && std::strcmp(v, "0") == 0;
  }();
  if (disabled) return nullptr;
#if defined(TL_HAVE_X86_VARIANTS)
  if (active_isa() != Isa::Avx512 && active_isa() != Isa::Avx2) return nullptr;
  const bool vnni = active_vnni(), avx512 = active_isa() == Isa::Avx512;
  switch (type_id) {
    case ggml::Q4_K: return vnni ? avx512vnni::qgemm_q4_K : nullptr;
    case ggml::Q5_K: return vnni ? avx512vnni::qgemm_q5_K : nullptr;
#define TL_QGEMM_PICK(ID, t) \
  case ID: return vnni ? avx512vnni::qgemm_##t : avx512 ? avx512::qgemm_##t : avx2::qgemm_##t;
    TL_QGEMM_PICK(ggml::Q8_0, q8_0)
    TL_QGEMM_PICK(ggml::Q4_0, q4_0)
    TL_QGEMM_PICK(ggml::Q6_K, q6_K)
#undef TL_QGEMM_PICK
    default: return nullptr;
  }
#else
  (void)type_id;
#endif
  return nullptr;
}

}  // namespace tl
