// 1x1 convolution (stride 1, no padding, one group) on NCHW maps as matrix products, CPU: per
// sample, Y[n] (D x S) = W (D x C) . X[n] (C x S) with S = H * W positions, optionally followed by
// GELU (JV_GELU) while the sample's output is still in cache. oneDNN's row-major sgemm, declared
// here rather than included so that the op compiles against whichever oneDNN Jittor loaded; the
// symbol comes from the library Jittor's mkl ops opened with RTLD_GLOBAL.
// Batches of at least one sample per thread run one sample per OpenMP task with a single-threaded
// sgemm each; smaller batches run sample by sample with oneDNN's own threading.
#ifndef JV_POINTWISE_CPU_H
#define JV_POINTWISE_CPU_H
#include <cmath>
#include <cstdint>
#include <omp.h>
#include <vector>
extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                          float* C, int64_t ldc);
namespace jvpw {
using namespace jvdw;

static inline bool per_sample_tasks(long N) { return N >= omp_get_max_threads(); }

static inline float gelu1(float x) { return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f)); }
static inline float gelu_grad1(float x) {
    return 0.5f * (1.f + std::erf(x * 0.70710678118654752f)) + x * std::exp(-0.5f * x * x) * 0.39894228040143268f;
}

// dst[i] = GELU(src[i]) for i in [i0, i1) (dst may be src).
static inline void gelu_span(const float* src, float* dst, long i0, long i1) {
    long i = i0;
    for (; i + VL <= i1; i += VL) vstore(dst + i, vgelu(vload(src + i)));
    for (; i < i1; i++) dst[i] = gelu1(src[i]);
}

// out[i] = g[i] * GELU'(h[i]) for i in [i0, i1).
static inline void gelu_grad_span(const float* h, const float* g, float* out, long i0, long i1) {
    long i = i0;
    for (; i + VL <= i1; i += VL) vstore(out + i, vload(g + i) * vgelu_grad(vload(h + i)));
    for (; i < i1; i++) out[i] = g[i] * gelu_grad1(h[i]);
}

// Row sums of a [D, S] block added to acc[D].
static inline void add_row_sums(const float* m, long D, long S, double* acc) {
    for (long d = 0; d < D; d++) {
        const float* r = m + d * S;
        vf v = vsplat(0.f);
        long s = 0;
        for (; s + VL <= S; s += VL) v += vload(r + s);
        float t = hsum(v);
        for (; s < S; s++) t += r[s];
        acc[d] += t;
    }
}
}  // namespace jvpw
#endif
