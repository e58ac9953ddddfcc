// Bilinear resize, CPU: source coordinates (PyTorch's F.interpolate(mode="bilinear") with an
// output size), the row/column passes of resize_bilinear_*.cc and the class-vector helpers of
// softmax_ce_*.cc (jvsce, below; they use dwconv_cpu.h's vectors, included first).
//
// For output index o of an axis resized from `in` to `out` samples:
//   align_corners:     s = o * (in - 1) / (out - 1)          (0 when out == 1)
//   not align_corners: s = max((o + 0.5) * in / out - 0.5, 0)
//   i0 = floor(s), i1 = min(i0 + 1, in - 1), l1 = s - i0, l0 = 1 - l1
// computed in float as PyTorch does on CPU, so both pick the same taps and weights.
#ifndef JV_RESIZE_BILINEAR_H
#define JV_RESIZE_BILINEAR_H
#include <algorithm>
#include <vector>

namespace jvrs {

struct Taps {
    std::vector<int> i0, i1;
    std::vector<float> l0, l1;
};

static inline Taps axis_taps(int in, int out, bool align_corners) {
    Taps t;
    t.i0.resize(out), t.i1.resize(out), t.l0.resize(out), t.l1.resize(out);
    float scale;
    if (align_corners) scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.f;
    else scale = (float)in / (float)out;
    for (int o = 0; o < out; o++) {
        float s = align_corners ? scale * o : scale * (o + 0.5f) - 0.5f;
        if (s < 0.f) s = 0.f;
        int i0 = std::min((int)s, in - 1);
        int i1 = i0 + (i0 < in - 1 ? 1 : 0);
        float l1 = std::min(std::max(s - (float)i0, 0.f), 1.f);
        t.i0[o] = i0, t.i1[o] = i1, t.l1[o] = l1, t.l0[o] = 1.f - l1;
    }
    return t;
}

// dst[o] = l0[o] * src[i0[o]] + l1[o] * src[i1[o]] for o in [o0, o0 + n).
static inline void gather_row(const float* src, const Taps& tx, int o0, int n, float* dst) {
    const int* a = tx.i0.data() + o0;
    const int* b = tx.i1.data() + o0;
    const float* wa = tx.l0.data() + o0;
    const float* wb = tx.l1.data() + o0;
    for (int i = 0; i < n; i++) dst[i] = wa[i] * src[a[i]] + wb[i] * src[b[i]];
}

// dst[i0[o]] += l0[o] * g[o - o0], dst[i1[o]] += l1[o] * g[o - o0] (the transpose of gather_row).
static inline void scatter_row(const float* g, const Taps& tx, int o0, int n, float* dst) {
    const int* a = tx.i0.data() + o0;
    const int* b = tx.i1.data() + o0;
    const float* wa = tx.l0.data() + o0;
    const float* wb = tx.l1.data() + o0;
    for (int i = 0; i < n; i++) {
        dst[a[i]] += wa[i] * g[i];
        dst[b[i]] += wb[i] * g[i];
    }
}

// dst[i] = w0 * r0[i] + w1 * r1[i] (one vertical step, contiguous: vectorises).
static inline void blend_rows(const float* r0, const float* r1, float w0, float w1, int n, float* dst) {
    for (int i = 0; i < n; i++) dst[i] = w0 * r0[i] + w1 * r1[i];
}

}  // namespace jvrs

// Helpers of the class-vector layout of softmax_ce_*.cc (K classes padded to KP, a multiple of
// jvdw::VL; needs dwconv_cpu.h first).
namespace jvsce {

// vr[s][k] = l0 * x[k][y0][s] + l1 * x[k][y1][s] for the K planes of one image; pad lanes -1e30
// (exp of them is 0, they never win a max, and l0 * -1e30 + l1 * -1e30 stays finite).
static inline void blend_rows_transposed(const float* x, int K, int h, int w, int y0, int y1, float l0, float l1,
                                         int KP, float* vr) {
    for (int k = 0; k < K; k++) {
        const float* r0 = x + ((size_t)k * h + y0) * w;
        const float* r1 = x + ((size_t)k * h + y1) * w;
        for (int s = 0; s < w; s++) vr[(size_t)s * KP + k] = l0 * r0[s] + l1 * r1[s];
    }
    for (int s = 0; s < w; s++)
        for (int k = K; k < KP; k++) vr[(size_t)s * KP + k] = -1e30f;
}

// z[k] = l0 * vr[i0][k] + l1 * vr[i1][k] for the KP lanes.
static inline void interpolate(const float* vr, int KP, int i0, int i1, float l0, float l1, float* z) {
    using namespace jvdw;
    const float* a = vr + (size_t)i0 * KP;
    const float* b = vr + (size_t)i1 * KP;
    const vf va = vsplat(l0), vb = vsplat(l1);
    for (int k = 0; k < KP; k += VL) vstore(z + k, va * vload(a + k) + vb * vload(b + k));
}

}  // namespace jvsce
#endif
