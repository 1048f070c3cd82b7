// Placeholder so the avx2 library is never empty; kernels add *_avx2.cpp files beside it.
