// CUDA helpers shared by every .cu file of this folder (named .h like the C++ one so that
// packaging picks it up). Compile-time parameters (JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW,
// JV_PH, JV_PW, ...) come from #define lines that jvision prepends; shapes are run-time arguments.
// Storage type T is float, __half or __nv_bfloat16 (Jittor's float32 / float16 / bfloat16);
// arithmetic and accumulation are always float.
// Kernels are launched with JV_LAUNCH(grid, block, kernel<...>)(args...): `<<<grid, block>>>` on a
// GPU, a fiber per thread under cuda_emu.h (JV_CUDA_EMU), which runs these sources on the CPU in tests.
#ifndef JVDW_CUDA_H
#define JVDW_CUDA_H
#ifndef JV_CUDA_EMU
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#define JV_LAUNCH(grid, block, ...) __VA_ARGS__<<<grid, block>>>
#endif
#include <stdexcept>
#include <string>

#ifndef JV_FLIP
#define JV_FLIP 0  // 1: use the kernel rotated by 180 degrees (input gradient as a forward convolution)
#endif

namespace jvdwc {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

__host__ __device__ constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }
__host__ __device__ constexpr long long ceil_div_ll(long long a, long long b) { return (a + b - 1) / b; }
__host__ __device__ constexpr int imin(int a, int b) { return a < b ? a : b; }
__host__ __device__ constexpr int imax(int a, int b) { return a > b ? a : b; }
// floor(a / b) for b > 0 and any sign of a.
__host__ __device__ __forceinline__ int floor_div(int a, int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}
// Index of tap k in a kernel of KK taps, rotated by 180 degrees when JV_FLIP.
template <int KK> __device__ __forceinline__ int tap(int k) { return JV_FLIP ? KK - 1 - k : k; }
// Patch column q stored with one padding float after every 4 (bank-conflict-free reads by threads
// whose columns are 4 apart: the igemm kernels).
__host__ __device__ constexpr int swz(int q) { return q + q / 4; }

struct Plain {  // identity maps for stage_patch
    __device__ __forceinline__ int operator()(int q) const { return q; }
    __device__ __forceinline__ float operator()(float v) const { return v; }
};
struct Swizzled : Plain {  // patch columns padded one float in four (see swz)
    using Plain::operator();
    __device__ __forceinline__ int operator()(int q) const { return swz(q); }
};

// Stages the rows x cols window of a plane (H x W, row-major) whose top-left corner is image
// position (r0, c0) in shared memory: dst[r * pitch + col(q)] = value(src[r0 + r][c0 + q]), zero
// outside the image. All threads of the block take part (thread tid of nt).
template <class T, class Col = Plain, class Val = Plain>
__device__ __forceinline__ void stage_patch(float* dst, int pitch, int rows, int cols, const T* src, int H, int W,
                                            int r0, int c0, int tid, int nt, Col col = Col(), Val value = Val()) {
    for (int k = tid; k < rows * cols; k += nt) {
        const int r = k / cols, q = k % cols, ih = r0 + r, iw = c0 + q;
        dst[r * pitch + col(q)] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? value(to_f(src[(size_t)ih * W + iw])) : 0.f;
    }
}

// sum_{i,j} w[i * KW + j] * src[(r + i * DH) * pitch + q + j * DW]: a KH x KW (dilated) convolution at
// (r, q) of a plane staged in shared memory.
template <int KH, int KW, int DH, int DW>
__device__ __forceinline__ float smem_conv(const float* w, const float* src, int pitch, int r, int q) {
    float acc = 0.f;
    for (int i = 0; i < KH; i++) {
        const float* row = src + (r + i * DH) * pitch + q;
#pragma unroll
        for (int j = 0; j < KW; j++) acc += w[i * KW + j] * row[j * DW];
    }
    return acc;
}

// Sum over the block of one float per thread; result valid in thread 0. `red` holds >= 32 floats.
__device__ __forceinline__ float block_sum(float v, float* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int t = threadIdx.x + threadIdx.y * blockDim.x, lane = t & 31, warp = t >> 5;
    __syncthreads();  // `red` may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    const int nwarps = (blockDim.x * blockDim.y + 31) >> 5;
    v = (t < nwarps) ? red[t] : 0.f;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// Second pass of every weight-gradient variant: one thread per (c, tap) adds the per-split
// partial sums part[split][c][KK + 1] in a fixed order (deterministic, no atomics); tap KK is the
// bias. dw / db may be null.
template <class T, int KK>
__global__ void wgrad_reduce(const float* __restrict__ part, T* __restrict__ dw, T* __restrict__ db,
                             int C, int splits) {
    const int idx = blockIdx.x * blockDim.x + threadIdx.x;  // over C * (KK + 1)
    if (idx >= C * (KK + 1)) return;
    const int c = idx / (KK + 1), k = idx % (KK + 1);
    float s = 0.f;
    for (int sp = 0; sp < splits; sp++) s += part[((size_t)sp * C + c) * (KK + 1) + k];
    if (k < KK) {
        if (dw) dw[(size_t)c * KK + k] = from_f<T>(s);
    } else if (db) {
        db[c] = from_f<T>(s);
    }
}

}  // namespace jvdwc

// Launch-error check: Jittor surfaces cudaGetLastError after the op, but name the kernel here.
#define JV_CUDA_CHECK_LAUNCH(name)                                                         \
    do {                                                                                   \
        cudaError_t jv_err = cudaGetLastError();                                           \
        if (jv_err != cudaSuccess)                                                         \
            throw std::runtime_error(std::string(name) + ": " + cudaGetErrorString(jv_err)); \
    } while (0)

// Splits of a weight-gradient scratch buffer of `len` floats ([splits, C, KK + 1], sized by
// jvision.ops.dwconv.wgrad_scratch), checked.
static inline long long jv_wgrad_splits(long long len, long long C, int KK, const char* name) {
    const long long splits = len / (C * (KK + 1));
    if (splits < 1 || splits > 65535)
        throw std::runtime_error(std::string(name) + ": scratch buffer of " + std::to_string(len) +
                                 " floats does not match C=" + std::to_string(C));
    return splits;
}

template <class T, int KK>
static void jv_wgrad_finish(const float* part, T* dw, T* db, long long C, long long splits) {
    const int total = (int)(C * (KK + 1));
    JV_LAUNCH(dim3(jvdwc::ceil_div(total, 256)), dim3(256), jvdwc::wgrad_reduce<T, KK>)
        (part, dw, db, (int)C, (int)splits);
    JV_CUDA_CHECK_LAUNCH("jvision wgrad_reduce");
}
#endif  // JVDW_CUDA_H
