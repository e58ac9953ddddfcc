// Modulated deformable im2col and its backward, CUDA (kernels + host launchers; included in
// cuda_header, with the JV_* macros of deform.py in front). Same sampling rule as deform_cpu.h
// (mmcv's): position y = oh*SH - PH + i*DH + dy, x likewise; 0 outside (-1, H) x (-1, W), zero
// padding per corner; a NaN position reads 0.
//   im2col:  x [N, C, H, W], offset [N, DG*2K, OH, OW], mask [N, DG*K, OH, OW] -> col [N, C*K, L]
//   col2im:  dcol -> dx (atomicAdd into a zeroed dx), doffset, dmask (one thread per
//            (n, group, tap, position), summing over the channels of the group: no atomics)
#include <stdexcept>
#include <string>

namespace jvdcnc {

constexpr int THREADS = 256;

template <class T>
__device__ __forceinline__ bool tap_inside(T y, T x, int H, int W) {
    return (y > T(-1)) && (y < T(H)) && (x > T(-1)) && (x < T(W));
}

template <class T, bool GRAD>
__device__ __forceinline__ T bilinear(const T* p, int H, int W, T y, T x, T* gy, T* gx) {
    if (!tap_inside(y, x, H, W)) {
        if (GRAD) { *gy = T(0); *gx = T(0); }
        return T(0);
    }
    const T fy = floor(y), fx = floor(x);
    const int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1, x1 = x0 + 1;
    const T ly = y - fy, lx = x - fx, hy = T(1) - ly, hx = T(1) - lx;
    const bool iy0 = y0 >= 0, iy1 = y1 <= H - 1, ix0 = x0 >= 0, ix1 = x1 <= W - 1;
    const T v1 = (iy0 && ix0) ? p[(long)y0 * W + x0] : T(0);
    const T v2 = (iy0 && ix1) ? p[(long)y0 * W + x1] : T(0);
    const T v3 = (iy1 && ix0) ? p[(long)y1 * W + x0] : T(0);
    const T v4 = (iy1 && ix1) ? p[(long)y1 * W + x1] : T(0);
    if (GRAD) {
        *gy = hx * (v3 - v1) + lx * (v4 - v2);
        *gx = hy * (v2 - v1) + ly * (v4 - v3);
    }
    return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}

template <class T, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
__global__ void im2col_kernel(const T* __restrict__ x, const T* __restrict__ off,
                              const T* __restrict__ msk, T* __restrict__ col,
                              int N, int C, int H, int W, int OH, int OW, int DG) {
    constexpr int K = KH * KW;
    const long L = (long)OH * OW;
    const long total = (long)N * C * L;
    const int CG = C / DG;
    for (long idx = blockIdx.x * (long)blockDim.x + threadIdx.x; idx < total;
         idx += (long)gridDim.x * blockDim.x) {
        const long l = idx % L;
        const long nc = idx / L;
        const int c = (int)(nc % C), n = (int)(nc / C);
        const long ng = (long)n * DG + c / CG;
        const int oh = (int)(l / OW), ow = (int)(l % OW);
        const T* xp = x + nc * H * W;
#pragma unroll
        for (int k = 0; k < K; k++) {
            const int i = k / KW, j = k % KW;
            const T dy = off[(ng * 2 * K + 2 * k) * L + l], dx = off[(ng * 2 * K + 2 * k + 1) * L + l];
            const T y = T(oh * SH - PH + i * DH) + dy, xx = T(ow * SW - PW + j * DW) + dx;
            col[(nc * K + k) * L + l] = msk[(ng * K + k) * L + l] * bilinear<T, false>(xp, H, W, y, xx, nullptr, nullptr);
        }
    }
}

template <class T, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
__global__ void col2im_dx_kernel(const T* __restrict__ off, const T* __restrict__ msk,
                                 const T* __restrict__ dcol, T* __restrict__ dx,
                                 int N, int C, int H, int W, int OH, int OW, int DG) {
    constexpr int K = KH * KW;
    const long L = (long)OH * OW;
    const long total = (long)N * C * K * L;
    const int CG = C / DG;
    for (long idx = blockIdx.x * (long)blockDim.x + threadIdx.x; idx < total;
         idx += (long)gridDim.x * blockDim.x) {
        const long l = idx % L;
        const long nck = idx / L;
        const int k = (int)(nck % K);
        const long nc = nck / K;
        const int c = (int)(nc % C), n = (int)(nc / C);
        const long ng = (long)n * DG + c / CG;
        const int i = k / KW, j = k % KW, oh = (int)(l / OW), ow = (int)(l % OW);
        const T y = T(oh * SH - PH + i * DH) + off[(ng * 2 * K + 2 * k) * L + l];
        const T xx = T(ow * SW - PW + j * DW) + off[(ng * 2 * K + 2 * k + 1) * L + l];
        if (!tap_inside(y, xx, H, W)) continue;
        const T g = dcol[idx] * msk[(ng * K + k) * L + l];
        const T fy = floor(y), fx = floor(xx);
        const int y0 = (int)fy, x0 = (int)fx, y1 = y0 + 1, x1 = x0 + 1;
        const T ly = y - fy, lx = xx - fx, hy = T(1) - ly, hx = T(1) - lx;
        T* d = dx + nc * H * W;
        if (y0 >= 0 && x0 >= 0) atomicAdd(d + (long)y0 * W + x0, hy * hx * g);
        if (y0 >= 0 && x1 <= W - 1) atomicAdd(d + (long)y0 * W + x1, hy * lx * g);
        if (y1 <= H - 1 && x0 >= 0) atomicAdd(d + (long)y1 * W + x0, ly * hx * g);
        if (y1 <= H - 1 && x1 <= W - 1) atomicAdd(d + (long)y1 * W + x1, ly * lx * g);
    }
}

template <class T, int KH, int KW, int SH, int SW, int PH, int PW, int DH, int DW>
__global__ void col2im_om_kernel(const T* __restrict__ x, const T* __restrict__ off,
                                 const T* __restrict__ msk, const T* __restrict__ dcol,
                                 T* __restrict__ doff, T* __restrict__ dmsk,
                                 int N, int C, int H, int W, int OH, int OW, int DG) {
    constexpr int K = KH * KW;
    const long L = (long)OH * OW;
    const long total = (long)N * DG * K * L;
    const int CG = C / DG;
    for (long idx = blockIdx.x * (long)blockDim.x + threadIdx.x; idx < total;
         idx += (long)gridDim.x * blockDim.x) {
        const long l = idx % L;
        const long ngk = idx / L;
        const int k = (int)(ngk % K);
        const long ng = ngk / K;
        const int g = (int)(ng % DG), n = (int)(ng / DG);
        const int i = k / KW, j = k % KW, oh = (int)(l / OW), ow = (int)(l % OW);
        const T y = T(oh * SH - PH + i * DH) + off[(ng * 2 * K + 2 * k) * L + l];
        const T xx = T(ow * SW - PW + j * DW) + off[(ng * 2 * K + 2 * k + 1) * L + l];
        const T m = msk[ngk * L + l];
        T am = T(0), ay = T(0), ax = T(0);
        for (int cg = 0; cg < CG; cg++) {
            const long nc = (long)n * C + g * CG + cg;
            T gy, gx;
            const T v = bilinear<T, true>(x + nc * H * W, H, W, y, xx, &gy, &gx);
            const T gc = dcol[(nc * K + k) * L + l];
            am += gc * v;
            ay += gc * m * gy;
            ax += gc * m * gx;
        }
        doff[(ng * 2 * K + 2 * k) * L + l] = ay;
        doff[(ng * 2 * K + 2 * k + 1) * L + l] = ax;
        dmsk[ngk * L + l] = am;
    }
}

inline int blocks_for(long total) {
    long b = (total + THREADS - 1) / THREADS;
    return (int)(b < 65535L * 8 ? (b < 1 ? 1 : b) : 65535L * 8);
}

inline void check_launch(const char* what) {
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

}  // namespace jvdcnc

template <class T>
void jv_deform_im2col_launch(const T* x, const T* off, const T* msk, T* col,
                             int N, int C, int H, int W, int OH, int OW, int DG) {
    using namespace jvdcnc;
    const long total = (long)N * C * OH * OW;
    im2col_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>
        <<<blocks_for(total), THREADS>>>(x, off, msk, col, N, C, H, W, OH, OW, DG);
    check_launch("deform im2col");
}

template <class T>
void jv_deform_col2im_launch(const T* x, const T* off, const T* msk, const T* dcol, T* dx, T* doff,
                             T* dmsk, int N, int C, int H, int W, int OH, int OW, int DG) {
    using namespace jvdcnc;
    constexpr int K = JV_KH * JV_KW;
    if (dx) {
        cudaMemsetAsync(dx, 0, sizeof(T) * (size_t)N * C * H * W);
        const long total = (long)N * C * K * OH * OW;
        col2im_dx_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>
            <<<blocks_for(total), THREADS>>>(off, msk, dcol, dx, N, C, H, W, OH, OW, DG);
        check_launch("deform col2im (input)");
    }
    if (doff) {
        const long total = (long)N * DG * K * OH * OW;
        col2im_om_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>
            <<<blocks_for(total), THREADS>>>(x, off, msk, dcol, doff, dmsk, N, C, H, W, OH, OW, DG);
        check_launch("deform col2im (offset, mask)");
    }
}
