// Placeholder so the neon library is never empty; kernels add *_neon.cpp files beside it.
