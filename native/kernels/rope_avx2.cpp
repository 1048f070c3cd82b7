// RoPE row rotation compiled for AVX2 (hardware FMA); same bits as the scalar reference.
#include "kernels/rope_kernels.h"

namespace tl::avx2 {

void rope_rotate_row(float* x, const float* cs, int dims, RopeLayout layout) { rope_rotate_row_body(x, cs, dims, layout); }

}  // namespace tl::avx2
