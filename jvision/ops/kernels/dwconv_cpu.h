// Depthwise 2-D convolution on one image plane: the CPU building blocks shared by every
// CPU kernel in this folder (plain conv, fused MSCA / ConvMod paths).
//
// Layout. One (n, c) plane is first copied into a zero-padded, thread-local buffer. A padded
// row holds SW "phases" of `phase` floats each: padded column q lives at
// `row + (q % SW) * phase + q / SW`. For stride 1 that is just a padded row; for stride 2 the
// even and odd columns are split, so that the input column read by output column o through
// tap j, q = o*SW + j*DW, is `phase_base(j) + o`: contiguous in o whatever the stride. Every
// inner loop therefore walks contiguous memory in output columns, one vector (VL floats) at a
// time, with the kernel size, dilation and stride baked in as template arguments so that the
// compiler unrolls the taps and keeps all accumulators in registers.
//
// Tiles. The forward pass computes an RB x CB tile of output vectors (RB rows, CB vectors of VL
// columns) with one weight broadcast per tap shared by all RB*CB accumulators; the weight
// gradient keeps NI x KW per-tap accumulators (NI kernel rows at once) live while it streams
// the plane, so each gradient vector loaded is reused NI*KW times.
//
// Everything here is header-only C++14 with GCC/Clang vector extensions (no intrinsics): the
// same source compiles to AVX-512, AVX2 or SSE code depending on -march and the vector length
// JV_VL (8 floats by default; the "avx512" variants include dwconv_cpu_avx512.h first for 16).
#ifndef JVDW_CPU_H
#define JVDW_CPU_H
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace jvdw {

#ifndef JV_VL
#define JV_VL 8  // floats per vector: 8 = one 256-bit register (dwconv_cpu_avx512.h sets 16)
#endif
constexpr int VL = JV_VL;
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef float vfu __attribute__((vector_size(VL * sizeof(float)), aligned(4)));

static inline vf vload(const float* p) { return *(const vfu*)p; }
static inline void vstore(float* p, vf v) { *(vfu*)p = v; }
static inline vf vsplat(float s) { return vf{} + s; }
static inline float hsum(vf v) {
    float s = 0.f;
    for (int l = 0; l < VL; l++) s += v[l];
    return s;
}
static inline void vstore_n(float* p, vf v, int n) {  // first n (< VL) lanes only
    for (int l = 0; l < n; l++) p[l] = v[l];
}
static inline int round_up(int a, int b) { return (a + b - 1) / b * b; }

// ---------------------------------------------------------------------------------------------
// Vector exp / erf / GELU (float32, no libm calls so that the loops vectorise everywhere).
typedef int vi __attribute__((vector_size(VL * sizeof(int))));

// e^x, relative error < 2e-7 on [-87, 88] (Cody-Waite reduction, degree-6 polynomial).
static inline vf vexp(vf x) {
    const vf hi = vsplat(88.0f), lo = vsplat(-87.0f);
    x = x > hi ? hi : x;
    x = x < lo ? lo : x;
    const vf t = x * 1.44269504088896341f;
    const vi k = __builtin_convertvector(t + 128.5f, vi) - 128;  // round(t), t in [-126, 127]
    const vf kf = __builtin_convertvector(k, vf);
    const vf r = (x - kf * 0.693145751953125f) - kf * 1.428606765330187e-06f;
    vf p = vsplat(1.0f / 720);
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const vi bits = (k + 127) << 23;
    return p * (vf)bits;
}

// erf(a) = 1 - q(a) e^{-a^2} for a >= 0 (Abramowitz & Stegun 7.1.26, absolute error < 3e-7):
// q(a) = t (a1 + t (a2 + ...)), t = 1 / (1 + 0.3275911 a).
static inline vf verf_q(vf a) {
    const vf t = 1.0f / (1.0f + 0.3275911f * a);
    vf p = vsplat(1.061405429f);
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    return p * t;
}

// erf(x) with the vector exp above.
static inline vf verf(vf x) {
    const vf ax = x < 0 ? -x : x;
    const vf y = 1.0f - verf_q(ax) * vexp(-ax * ax);
    return x < 0 ? -y : y;
}

// GELU(x) = x * Phi(x) (the exact form, as torch.nn.GELU() and jittor.nn.GELU) and its derivative.
static inline vf vgelu(vf x) { return 0.5f * x * (1.0f + verf(x * 0.70710678118654752f)); }
static inline vf vgelu_grad(vf x) {
    // Phi(x) + x phi(x), with erf(x / sqrt 2) as in verf: its exp(-(x / sqrt 2)^2) is phi's
    // exp(-x^2 / 2), computed once for both.
    const vf z = x * 0.70710678118654752f;
    const vf az = z < 0 ? -z : z;
    const vf e = vexp(-az * az);
    const vf y = 1.0f - verf_q(az) * e;
    const vf erf = z < 0 ? -y : y;
    return 0.5f * (1.0f + erf) + x * e * 0.39894228040143268f;
}

// Geometry of a padded, polyphase plane buffer.
struct PadGeom {
    int rows;   // padded rows
    int phase;  // floats per phase
    int pitch;  // floats per padded row = SW * phase
    size_t size() const { return (size_t)rows * pitch; }
};

// Buffer able to feed `orows` x `ocols` outputs of a (KH,KW,SH,SW,DH,DW) convolution.
template <int KH, int KW, int SH, int SW, int DH, int DW>
static inline PadGeom pad_geom(int orows, int ocols) {
    PadGeom g;
    g.rows = (orows - 1) * SH + (KH - 1) * DH + 1;
    g.phase = round_up(ocols, VL) + ((KW - 1) * DW) / SW + 1;
    g.pitch = SW * g.phase;
    return g;
}

// buf[r][q] = src[r - top][q - left] (zero outside src), stored polyphase (see top of file).
// `top` and `left` may be negative (a crop). `src` has rows of `W` floats.
template <int SW>
static inline void load_padded(const float* src, int H, int W, int top, int left,
                               const PadGeom& g, float* buf) {
    std::memset(buf, 0, g.size() * sizeof(float));
    const int ncols = g.pitch;  // padded columns held by a row
    const int q0 = std::max(0, left), q1 = std::min(ncols, left + W);
    if (q1 <= q0) return;
    const int r0 = std::max(0, top), r1 = std::min(g.rows, top + H);
    for (int r = r0; r < r1; r++) {
        const float* s = src + (size_t)(r - top) * W - left;
        float* d = buf + (size_t)r * g.pitch;
        if (SW == 1) {
            std::memcpy(d + q0, s + q0, (size_t)(q1 - q0) * sizeof(float));
        } else {
            for (int q = q0; q < q1; q++) d[(q % SW) * g.phase + q / SW] = s[q];
        }
    }
}

// Copies an rows x cols plane into a buffer of pitch round_up(cols, VL) with a zero tail, so
// that whole vectors can be read along a row.
static inline void load_rows_vpad(const float* src, int rows, int cols, float* buf) {
    const int pitch = round_up(cols, VL);
    for (int r = 0; r < rows; r++) {
        std::memcpy(buf + (size_t)r * pitch, src + (size_t)r * cols, (size_t)cols * sizeof(float));
        for (int c = cols; c < pitch; c++) buf[(size_t)r * pitch + c] = 0.f;
    }
}

// ---------------------------------------------------------------------------------------------
// Forward (gather) tile: dst[oh][o] = bias + sum_ij w[i][j] * pad[oh*SH + i*DH][o*SW + j*DW].
// `Epi` is called as epi(row, col, vf&) on each finished vector before it is stored.
template <int KH, int KW, int SH, int SW, int DH, int DW, int RB, int CB, class Epi>
static inline void fwd_tile(const float* buf, const PadGeom& g, const float* w, float bias,
                            float* dst, int dst_pitch, int ocols, int oh0, int v0, Epi& epi) {
    vf acc[RB][CB];
#pragma GCC unroll 16
    for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int c = 0; c < CB; c++) acc[r][c] = vsplat(bias);
    const float* base = buf + (size_t)oh0 * SH * g.pitch + (size_t)v0 * VL;
    for (int i = 0; i < KH; i++) {
        const float* rowi = base + (size_t)i * DH * g.pitch;
#pragma GCC unroll 32
        for (int j = 0; j < KW; j++) {
            const vf wv = vsplat(w[i * KW + j]);
            const float* pj = rowi + ((j * DW) % SW) * g.phase + (j * DW) / SW;
#pragma GCC unroll 16
            for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
                for (int c = 0; c < CB; c++)
                    acc[r][c] += wv * vload(pj + (size_t)r * SH * g.pitch + c * VL);
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int c = 0; c < CB; c++) {
            const int col = (v0 + c) * VL;
            epi(oh0 + r, col, acc[r][c]);
            float* d = dst + (size_t)(oh0 + r) * dst_pitch + col;
            if (col + VL <= ocols) vstore(d, acc[r][c]);
            else vstore_n(d, acc[r][c], ocols - col);
        }
}

struct NoEpi {
    inline void operator()(int, int, vf&) const {}
};

// Epilogue adding what the destination already holds: dst += conv(...). The destination must
// hold whole vectors (a buffer with a padded pitch): lanes past the valid columns are read.
struct AccumEpi {
    const float* dst;
    int pitch;
    inline void operator()(int r, int c, vf& v) const { v += vload(dst + (size_t)r * pitch + c); }
};

// Epilogue of the stride-1 "same" convolution y = x + GELU(conv(x)): x is read from the padded
// input plane (`x0` = its first valid element), whose rows hold whole vectors past the valid columns.
struct ResidualGeluEpi {
    const float* x0;
    int pitch;
    inline void operator()(int r, int c, vf& v) const { v = vload(x0 + (size_t)r * pitch + c) + vgelu(v); }
};

// Loads the first n lanes of p (n <= VL), zero elsewhere: whole vectors from dense planes.
static inline vf vload_n(const float* p, int n) {
    if (n >= VL) return vload(p);
    vf t = vf{};
    for (int l = 0; l < n; l++) t[l] = p[l];
    return t;
}

// Epilogue multiplying by a dense plane m (rows of `cols` floats): dst = conv(...) * m.
struct MulDenseEpi {
    const float* m;
    int cols;
    inline void operator()(int r, int c, vf& v) const { v *= vload_n(m + (size_t)r * cols + c, cols - c); }
};

// Epilogue multiplying by GELU'(a) for a plane `a` of whole-vector pitch: dst = conv(...) * GELU'(a).
struct GeluGradEpi {
    const float* a;
    int pitch;
    inline void operator()(int r, int c, vf& v) const { v *= vgelu_grad(vload(a + (size_t)r * pitch + c)); }
};

// Sum of a rows x cols plane with row pitch `pitch`.
static inline float plane_sum(const float* p, int rows, int cols, int pitch) {
    float s = 0.f;
    for (int r = 0; r < rows; r++) {
        const float* q = p + (size_t)r * pitch;
        float t = 0.f;
        for (int c = 0; c < cols; c++) t += q[c];
        s += t;
    }
    return s;
}

// Copies a rows x cols plane of pitch `spitch` into a dense plane.
static inline void store_plane(const float* src, int spitch, int rows, int cols, float* dst) {
    for (int r = 0; r < rows; r++)
        std::memcpy(dst + (size_t)r * cols, src + (size_t)r * spitch, (size_t)cols * sizeof(float));
}

// Same tile for stride 1 and dilation 1 along rows: input row q feeds output rows q - i for
// every tap row i, so each input vector is loaded once per tile and used by up to RB rows.
template <int KH, int KW, int SW, int DW, int RB, int CB, class Epi>
static inline void fwd_tile_rr(const float* buf, const PadGeom& g, const float* w, float bias,
                               float* dst, int dst_pitch, int ocols, int oh0, int v0, Epi& epi) {
    vf acc[RB][CB];
#pragma GCC unroll 16
    for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int c = 0; c < CB; c++) acc[r][c] = vsplat(bias);
    const float* base = buf + (size_t)oh0 * g.pitch + (size_t)v0 * VL;
#pragma GCC unroll 64
    for (int q = 0; q < RB + KH - 1; q++) {
        const float* rowq = base + (size_t)q * g.pitch;
#pragma GCC unroll 32
        for (int j = 0; j < KW; j++) {
            const float* pj = rowq + ((j * DW) % SW) * g.phase + (j * DW) / SW;
            vf xv[CB];
#pragma GCC unroll 16
            for (int c = 0; c < CB; c++) xv[c] = vload(pj + c * VL);
#pragma GCC unroll 16
            for (int r = 0; r < RB; r++) {
                const int i = q - r;
                if (i < 0 || i >= KH) continue;
                const vf wv = vsplat(w[i * KW + j]);
#pragma GCC unroll 16
                for (int c = 0; c < CB; c++) acc[r][c] += wv * xv[c];
            }
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < RB; r++)
#pragma GCC unroll 16
        for (int c = 0; c < CB; c++) {
            const int col = (v0 + c) * VL;
            epi(oh0 + r, col, acc[r][c]);
            float* d = dst + (size_t)(oh0 + r) * dst_pitch + col;
            if (col + VL <= ocols) vstore(d, acc[r][c]);
            else vstore_n(d, acc[r][c], ocols - col);
        }
}

template <int KH, int KW, int SH, int SW, int DH, int DW, int RB, int CB, class Epi>
static inline void fwd_tile_any(const float* buf, const PadGeom& g, const float* w, float bias,
                                float* dst, int dst_pitch, int ocols, int oh0, int v0, Epi& epi) {
    if (SH == 1 && DH == 1 && KH > 1 && RB > 1)
        fwd_tile_rr<KH, KW, SW, DW, RB, CB>(buf, g, w, bias, dst, dst_pitch, ocols, oh0, v0, epi);
    else
        fwd_tile<KH, KW, SH, SW, DH, DW, RB, CB>(buf, g, w, bias, dst, dst_pitch, ocols, oh0, v0, epi);
}

// Tile shape: RB rows x CB vectors of accumulators. 2 x 4 measured best over 5x5, 7x7 (dilated
// or not), 11x11 and the strips on one Zen 4 core (45-57 GFLOP/s for the square kernels).
#ifndef JV_FWD_RB
#define JV_FWD_RB 2
#endif
#ifndef JV_FWD_CB
#define JV_FWD_CB 4
#endif
template <int KH, int KW> struct FwdTile {
    static constexpr int RB = JV_FWD_RB;
    static constexpr int CB = JV_FWD_CB;
};

// Full output plane [orows x ocols] (row pitch dst_pitch) from a padded buffer.
template <int KH, int KW, int SH, int SW, int DH, int DW, class Epi>
static inline void fwd_plane(const float* buf, const PadGeom& g, const float* w, float bias,
                             float* dst, int dst_pitch, int orows, int ocols, Epi& epi) {
    constexpr int RB = FwdTile<KH, KW>::RB, CB = FwdTile<KH, KW>::CB;
    const int nv = (ocols + VL - 1) / VL;
    int oh = 0;
    for (; oh + RB <= orows; oh += RB) {
        int v = 0;
        for (; v + CB <= nv; v += CB)
            fwd_tile_any<KH, KW, SH, SW, DH, DW, RB, CB>(buf, g, w, bias, dst, dst_pitch, ocols, oh, v, epi);
        for (; v < nv; v++)
            fwd_tile_any<KH, KW, SH, SW, DH, DW, RB, 1>(buf, g, w, bias, dst, dst_pitch, ocols, oh, v, epi);
    }
    for (; oh < orows; oh++) {
        int v = 0;
        for (; v + 4 <= nv; v += 4)
            fwd_tile<KH, KW, SH, SW, DH, DW, 1, 4>(buf, g, w, bias, dst, dst_pitch, ocols, oh, v, epi);
        for (; v < nv; v++)
            fwd_tile<KH, KW, SH, SW, DH, DW, 1, 1>(buf, g, w, bias, dst, dst_pitch, ocols, oh, v, epi);
    }
}

template <int KH, int KW, int SH, int SW, int DH, int DW>
static inline void fwd_plane(const float* buf, const PadGeom& g, const float* w, float bias,
                             float* dst, int dst_pitch, int orows, int ocols) {
    NoEpi e;
    fwd_plane<KH, KW, SH, SW, DH, DW>(buf, g, w, bias, dst, dst_pitch, orows, ocols, e);
}

// ---------------------------------------------------------------------------------------------
// Weight gradient of one plane, accumulated into dw[KH*KW]:
//   dw[i][j] += sum_{oh,o} dy[oh][o] * pad[oh*SH + i*DH][o*SW + j*DW]
// `dy` has rows of `dpitch` floats whose lanes past `ocols` (up to the next multiple of VL)
// are zero.
template <int KH, int KW, int SH, int SW, int DH, int DW, int NI>
static inline void wgrad_rows(const float* buf, const PadGeom& g, const float* dy, int dpitch,
                              int orows, int ocols, int i0, float* dw) {
    const int nv = (ocols + VL - 1) / VL;
    vf acc[NI][KW];
#pragma GCC unroll 32
    for (int a = 0; a < NI; a++)
#pragma GCC unroll 32
        for (int j = 0; j < KW; j++) acc[a][j] = vf{};
    for (int oh = 0; oh < orows; oh++) {
        const float* d = dy + (size_t)oh * dpitch;
        const float* rowb = buf + ((size_t)oh * SH + (size_t)i0 * DH) * g.pitch;
        for (int v = 0; v < nv; v++) {
            const vf dv = vload(d + v * VL);
#pragma GCC unroll 32
            for (int a = 0; a < NI; a++) {
                const float* ra = rowb + (size_t)a * DH * g.pitch + v * VL;
#pragma GCC unroll 32
                for (int j = 0; j < KW; j++)
                    acc[a][j] += dv * vload(ra + ((j * DW) % SW) * g.phase + (j * DW) / SW);
            }
        }
    }
    for (int a = 0; a < NI; a++)
        for (int j = 0; j < KW; j++) dw[(i0 + a) * KW + j] += hsum(acc[a][j]);
}

template <int KH, int KW, int SH, int SW, int DH, int DW>
static inline void wgrad_plane(const float* buf, const PadGeom& g, const float* dy, int dpitch,
                               int orows, int ocols, float* dw) {
    // NI kernel rows at a time: NI*KW accumulators, at most ~24 (of 32 vector registers).
    constexpr int NI0 = 24 / KW < 1 ? 1 : 24 / KW;
    constexpr int NI = NI0 > KH ? KH : NI0;
    constexpr int NFULL = KH / NI, NTAIL = KH % NI;
    for (int b = 0; b < NFULL; b++)
        wgrad_rows<KH, KW, SH, SW, DH, DW, NI>(buf, g, dy, dpitch, orows, ocols, b * NI, dw);
    if (NTAIL)
        wgrad_rows<KH, KW, SH, SW, DH, DW, (NTAIL ? NTAIL : 1)>(buf, g, dy, dpitch, orows,
                                                              ocols, NFULL * NI, dw);
}

// ---------------------------------------------------------------------------------------------
// Input gradient by scatter (any stride): pad[oh*SH + i*DH][o*SW + j*DW] += w[i][j] * dy[oh][o]
// into a zeroed polyphase buffer of geometry g; the caller then crops the padding away.
// `dy` has rows of pitch round_up(ocols, VL) whose tail is zero.
template <int KH, int KW, int SH, int SW, int DH, int DW>
static inline void dgrad_scatter_plane(const float* dy, int orows, int ocols, const float* w,
                                       const PadGeom& g, float* buf) {
    const int nv = (ocols + VL - 1) / VL;
    const int dpitch = nv * VL;
    for (int oh = 0; oh < orows; oh++) {
        const float* d = dy + (size_t)oh * dpitch;
        for (int i = 0; i < KH; i++) {
            float* rowi = buf + ((size_t)oh * SH + (size_t)i * DH) * g.pitch;
#pragma GCC unroll 32
            for (int j = 0; j < KW; j++) {
                const vf wv = vsplat(w[i * KW + j]);
                float* pj = rowi + ((j * DW) % SW) * g.phase + (j * DW) / SW;
                for (int v = 0; v < nv; v++) vstore(pj + v * VL, vload(pj + v * VL) + wv * vload(d + v * VL));
            }
        }
    }
}

// dst[r][c] = buf[r + top][c + left] for r < H, c < W (inverse of load_padded's placement);
// positions that the buffer does not hold (never reached by any output) read as zero.
template <int SW>
static inline void crop_padded(const float* buf, const PadGeom& g, int top, int left, int H,
                               int W, float* dst) {
    for (int r = 0; r < H; r++) {
        float* d = dst + (size_t)r * W;
        const int rr = r + top;
        if (rr < 0 || rr >= g.rows) {
            std::memset(d, 0, (size_t)W * sizeof(float));
            continue;
        }
        const float* s = buf + (size_t)rr * g.pitch;
        for (int c = 0; c < W; c++) {
            const int q = c + left;
            d[c] = (q >= 0 && q / SW < g.phase) ? s[(q % SW) * g.phase + q / SW] : 0.f;
        }
    }
}

// Buffer holding a rows x cols plane with `top`/`bottom` zero rows and `left`/`right` zero
// columns (stride 1), pitch padded to whole vectors; `origin()` is the offset of element (0, 0).
struct Framed {
    PadGeom g;
    int top, left;
    size_t origin() const { return (size_t)top * g.pitch + left; }
};
static inline Framed framed(int rows, int cols, int top, int bottom, int left, int right) {
    Framed f;
    f.g.rows = top + rows + bottom;
    f.g.phase = left + round_up(cols, VL) + right + 1;
    f.g.pitch = f.g.phase;
    f.top = top;
    f.left = left;
    return f;
}

// Fused kernels run their stages over a chunk of planes at a time (stage 1 for every plane of the
// chunk, then stage 2, ...) rather than all stages plane by plane, so that each large unrolled
// kernel runs several times in a row; the chunk's intermediate planes must still fit in L2
// (about 256 KiB of buffers per thread here).
#ifndef JV_CHUNK_MAX
#define JV_CHUNK_MAX 8
#endif
constexpr int CHUNK = JV_CHUNK_MAX;
static inline int chunk_planes(size_t floats_per_plane, long planes) {
    const size_t budget = 65536;  // floats
    size_t c = floats_per_plane ? budget / floats_per_plane : CHUNK;
#ifdef _OPENMP
    // keep at least 4 chunks per thread for load balance
    const long per = planes / (4L * omp_get_max_threads());
    if ((long)c > per) c = per > 0 ? (size_t)per : 1;
#else
    (void)planes;
#endif
    return (int)(c < 1 ? 1 : (c > (size_t)CHUNK ? CHUNK : c));
}

// GELU over the valid rows of a padded plane, in place: whole vectors from the first valid
// column; lanes past the last valid column hold padding zeros, and GELU(0) = 0 keeps them so.
static inline void gelu_rows(float* buf, const PadGeom& g, int top, int left, int H, int W) {
    const int nv = (W + VL - 1) / VL;
    for (int r = 0; r < H; r++) {
        float* p = buf + (size_t)(top + r) * g.pitch + left;
        for (int v = 0; v < nv; v++) vstore(p + v * VL, vgelu(vload(p + v * VL)));
    }
}

// Per-channel reduction of per-plane partial sums: part is [N][C][NP]; dst[k] = sum_n.
static inline void reduce_partials(const float* part, int N, int C, int NP, int c, float* dst) {
    for (int k = 0; k < NP; k++) {
        float s = 0.f;
        for (int n = 0; n < N; n++) s += part[((size_t)n * C + c) * NP + k];
        dst[k] = s;
    }
}

// w reversed (rotated by 180 degrees): the kernel of the input gradient.
template <int KK>
static inline void flip(const float* w, float* wf) {
    for (int k = 0; k < KK; k++) wf[k] = w[KK - 1 - k];
}

}  // namespace jvdw
#endif  // JVDW_CPU_H
