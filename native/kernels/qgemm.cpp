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
  const Isa isa = active_isa();
  const bool vnni = active_vnni();
#define TL_QGEMM_PICK(t)                                                                 \
  if (type_id == weight_type_id_##t) {                                                    \
    if (isa == Isa::Avx512) return vnni ? avx512vnni::qgemm_##t : avx512::qgemm_##t;       \
    if (isa == Isa::Avx2) return avx2::qgemm_##t;                                         \
    return nullptr;                                                                       \
  }
  constexpr int weight_type_id_q8_0 = ggml::Q8_0, weight_type_id_q4_0 = ggml::Q4_0, weight_type_id_q4_K = ggml::Q4_K,
                weight_type_id_q6_K = ggml::Q6_K, weight_type_id_q5_K = ggml::Q5_K;
  TL_QGEMM_LIST(TL_QGEMM_PICK)
#undef TL_QGEMM_PICK
#else
  (void)type_id;
#endif
  return nullptr;
}

}  // namespace tl
