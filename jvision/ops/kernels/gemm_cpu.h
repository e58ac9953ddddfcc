// What the CPU kernels built on matrix products share (1x1 convolution, linear layer, attention):
// oneDNN's row-major sgemm, declared here rather than included so that the ops compile against
// whichever oneDNN Jittor loaded (Debian's or its own download) -- the symbol is resolved at load
// time from the library Jittor's mkl ops opened with RTLD_GLOBAL; an sgemm called inside an active
// OpenMP region runs on the calling thread -- and the GELU / bias epilogues applied to a block of
// the product while it is still in cache.
#ifndef JV_GEMM_CPU_H
#define JV_GEMM_CPU_H
#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <memory>
#include <omp.h>
#include <vector>
extern "C" int dnnl_sgemm(char transa, char transb, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                          float* C, int64_t ldc);
namespace jvgemm {
using namespace jvdw;

// Whether a batch of N independent products runs one product per OpenMP task (single-threaded
// sgemm each) rather than one after the other with oneDNN's own threading.
static inline bool per_sample_tasks(long N) { return N >= omp_get_max_threads(); }

// Row blocks of the linear-layer kernels: blocks of about 256 rows, a multiple of the thread count
// (at least one per thread); `nblk` blocks of `rb` rows, the last ones possibly short or empty.
static inline void row_blocks(long R, long& nblk, long& rb) {
    const long T = omp_get_max_threads();
    nblk = std::max(T, (R + 255) / 256 + T - 1) / T * T;
    rb = (R + nblk - 1) / nblk;
}

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

// Row sums of a [D, S] block added to acc[D] (1x1 convolution: the bias gradient).
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
// Column sums of an [R, D] block added to acc[D] (linear layer: the bias gradient).
static inline void add_col_sums(const float* m, long R, long D, float* acc) {
    for (long r = 0; r < R; r++) {
        const float* row = m + r * D;
        long d = 0;
        for (; d + VL <= D; d += VL) vstore(acc + d, vload(acc + d) + vload(row + d));
        for (; d < D; d++) acc[d] += row[d];
    }
}
// Convolution geometry of the im2col kernels (conv_fwd.cc, conv_bwd.cc): kernel, stride, padding,
// dilation as JV_* compile-time constants; shapes at run time.
struct ConvDims {
    long C, H, W, OH, OW;
};

// col [C*KH*KW, OH*OW] of one sample's x [C, H, W] (zeros outside the map), channels [c0, c1).
template <int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
static inline void im2col(const float* x, const ConvDims& d, float* col, long c0, long c1) {
    const long L = d.OH * d.OW;
    for (long c = c0; c < c1; c++)
        for (int i = 0; i < KH; i++)
            for (int j = 0; j < KW; j++) {
                float* cr = col + ((c * KH + i) * KW + j) * L;
                for (long oh = 0; oh < d.OH; oh++) {
                    const long ih = oh * SH - PH + i * DH;
                    float* o = cr + oh * d.OW;
                    if (ih < 0 || ih >= d.H) {
                        for (long ow = 0; ow < d.OW; ow++) o[ow] = 0.f;
                        continue;
                    }
                    const float* xr = x + (c * d.H + ih) * d.W;
                    for (long ow = 0; ow < d.OW; ow++) {
                        const long iw = ow * SW - PW + j * DW;
                        o[ow] = (iw >= 0 && iw < d.W) ? xr[iw] : 0.f;
                    }
                }
            }
}

// dx [C, H, W] += the columns col [C*KH*KW, OH*OW] scattered back (the transpose of im2col),
// channels [c0, c1); each channel's plane is written by one caller only.
template <int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
static inline void col2im_add(const float* col, const ConvDims& d, float* dx, long c0, long c1) {
    const long L = d.OH * d.OW;
    for (long c = c0; c < c1; c++)
        for (int i = 0; i < KH; i++)
            for (int j = 0; j < KW; j++) {
                const float* cr = col + ((c * KH + i) * KW + j) * L;
                for (long oh = 0; oh < d.OH; oh++) {
                    const long ih = oh * SH - PH + i * DH;
                    if (ih < 0 || ih >= d.H) continue;
                    float* xr = dx + (c * d.H + ih) * d.W;
                    const float* o = cr + oh * d.OW;
                    for (long ow = 0; ow < d.OW; ow++) {
                        const long iw = ow * SW - PW + j * DW;
                        if (iw >= 0 && iw < d.W) xr[iw] += o[ow];
                    }
                }
            }
}
// The per-thread partial sums of a per-sample-task backward (pointwise_bwd.cc, conv_bwd.cc), reduced
// in a fixed order so that the result does not depend on the schedule: dw (thread 0's own partial)
// += the partials of threads 1..T-1 (n floats each); db[d] = the sum over threads of bsum[t][d].
static inline void reduce_partials(float* dw, const float* part, int T, long n) {
    for (int t = 1; t < T; t++) {
        const float* p = part + (size_t)(t - 1) * n;
        for (long i = 0; i < n; i++) dw[i] += p[i];
    }
}
static inline void reduce_bias_sums(const double* bsum, int T, long D, float* db) {
    for (long d = 0; d < D; d++) {
        double s = 0.0;
        for (int t = 0; t < T; t++) s += bsum[(size_t)t * D + d];
        db[d] = (float)s;
    }
}
}  // namespace jvgemm
#endif
