// Modulated deformable convolution (DCNv2), CPU building blocks shared by deform_im2col.cc and
// deform_col2im.cc. Sampling follows mmcv's modulated_deform_im2col exactly: a tap of output
// (oh, ow) reads input position
//     y = oh*SH - PH + i*DH + dy,   x = ow*SW - PW + j*DW + dx     (tap k = i*KW + j)
// bilinearly; a position with y <= -1, y >= H, x <= -1 or x >= W reads 0, and inside that range
// each corner outside the image contributes 0 (zero padding). The test is written as
// "inside" so that a NaN position reads 0 and never becomes an out-of-range index.
#include <cmath>
#include <cstring>
#include <vector>

namespace jvdcn {

// One bilinear sample point: the top-left corner and the four corner weights, with the corners
// that fall outside the image already given weight 0 (and index 0, so that they are never read
// out of bounds).
template <class T>
struct Tap {
    int y0, x0;     // top-left corner (may be -1)
    T ly, lx;       // fractional parts
    bool inside;    // the position is in (-1, H) x (-1, W)
};

template <class T>
inline Tap<T> make_tap(T y, T x, int H, int W) {
    Tap<T> t;
    t.inside = (y > T(-1)) && (y < T(H)) && (x > T(-1)) && (x < T(W));
    if (!t.inside) {
        t.y0 = t.x0 = -2;
        t.ly = t.lx = T(0);
        return t;
    }
    const T fy = std::floor(y), fx = std::floor(x);
    t.y0 = (int)fy;
    t.x0 = (int)fx;
    t.ly = y - fy;
    t.lx = x - fx;
    return t;
}

// Bilinear value of plane p (H x W) at tap t, and optionally its derivatives along y and x.
template <class T, bool GRAD>
inline T sample(const T* p, int H, int W, const Tap<T>& t, T* gy = nullptr, T* gx = nullptr) {
    if (!t.inside) {
        if (GRAD) { *gy = T(0); *gx = T(0); }
        return T(0);
    }
    const int y0 = t.y0, x0 = t.x0, y1 = y0 + 1, x1 = x0 + 1;
    const bool iy0 = y0 >= 0, iy1 = y1 <= H - 1, ix0 = x0 >= 0, ix1 = x1 <= W - 1;
    const T v1 = (iy0 && ix0) ? p[(long)y0 * W + x0] : T(0);
    const T v2 = (iy0 && ix1) ? p[(long)y0 * W + x1] : T(0);
    const T v3 = (iy1 && ix0) ? p[(long)y1 * W + x0] : T(0);
    const T v4 = (iy1 && ix1) ? p[(long)y1 * W + x1] : T(0);
    const T ly = t.ly, lx = t.lx, hy = T(1) - ly, hx = T(1) - lx;
    if (GRAD) {
        *gy = hx * (v3 - v1) + lx * (v4 - v2);
        *gx = hy * (v2 - v1) + ly * (v4 - v3);
    }
    return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}

// Adds g * (bilinear weights of t) into plane d (H x W): the adjoint of sample().
template <class T>
inline void scatter(T* d, int H, int W, const Tap<T>& t, T g) {
    if (!t.inside) return;
    const int y0 = t.y0, x0 = t.x0, y1 = y0 + 1, x1 = x0 + 1;
    const T ly = t.ly, lx = t.lx, hy = T(1) - ly, hx = T(1) - lx;
    if (y0 >= 0 && x0 >= 0) d[(long)y0 * W + x0] += hy * hx * g;
    if (y0 >= 0 && x1 <= W - 1) d[(long)y0 * W + x1] += hy * lx * g;
    if (y1 <= H - 1 && x0 >= 0) d[(long)y1 * W + x0] += ly * hx * g;
    if (y1 <= H - 1 && x1 <= W - 1) d[(long)y1 * W + x1] += ly * lx * g;
}

// The taps of one (n, deform group, kernel tap k) for every output position, from the offset
// planes dy (oy) and dx (ox).
template <class T, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
inline void make_taps(const T* oy, const T* ox, int k, int H, int W, int OH, int OW, Tap<T>* taps) {
    const int i = k / KW, j = k % KW;
    for (int oh = 0; oh < OH; oh++) {
        const T by = T(oh * SH - PH + i * DH);
        for (int ow = 0; ow < OW; ow++) {
            const long l = (long)oh * OW + ow;
            taps[l] = make_tap<T>(by + oy[l], T(ow * SW - PW + j * DW) + ox[l], H, W);
        }
    }
}

}  // namespace jvdcn
