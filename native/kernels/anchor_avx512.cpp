// Placeholder so the avx512 library is never empty; kernels add *_avx512.cpp files beside it.
