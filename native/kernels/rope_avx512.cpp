// RoPE row rotation compiled for AVX512 (hardware FMA); same bits as the scalar reference.
#include "kernels/rope_kernels.h"

namespace tl::avx512 {

void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout) { rope_rotate_row_body(x, cs, dims, layout); }

}  // namespace tl::avx512
