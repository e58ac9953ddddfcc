// AVX-512 build of the CPU kernels ("avx512" / "fused_avx512" variants): included before
// dwconv_cpu.h, it makes every vector of the building blocks 16 floats (one 512-bit register)
// instead of 8. Same kernels, same results; wider vectors pay on planes at least ~32 columns wide
// and waste lanes on narrow ones, which is why the autotuner, not a rule, picks between the two.
// Eligible only where the CPU reports avx512f (checked in Python before this file is compiled;
// Jittor compiles with -march=native, so the compiler then targets AVX-512 too).
#if defined(__GNUC__) && !defined(__AVX512F__)
#error "the avx512 kernel variants need a compiler targeting AVX-512 (-march=native on an AVX-512 CPU)"
#endif
#define JV_VL 16
