// Depthwise 2-D convolution, CUDA (a CUDA header, named .h like the C++ one so that packaging
// picks it up): helpers shared by dwconv_fwd.cu, dwconv_bwd_data.cu,
// dwconv_bwd_weight.cu. Compile-time parameters (JV_KH, JV_KW,
// JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW) come from #define lines that jvision prepends;
// shapes are run-time arguments. Storage type T is float or __half (Jittor's float16);
// arithmetic and accumulation are always float.
#ifndef JVDW_CUDA_H
#define JVDW_CUDA_H
#include <cuda_runtime.h>
#include <cuda_fp16.h>

namespace jvdwc {

template <class T> __device__ __forceinline__ float to_f(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <class T> __device__ __forceinline__ T from_f(float v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half(v); }

__host__ __device__ constexpr int ceil_div(int a, int b) { return (a + b - 1) / b; }
// floor(a / b) for b > 0 and any sign of a.
__host__ __device__ __forceinline__ int floor_div(int a, int b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// Sum over the block of one float per thread; result valid in thread 0. `red` holds >= 32 floats.
__device__ __forceinline__ float block_sum(float v, float* red) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads();  // `red` may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    const int nwarps = (blockDim.x + 31) >> 5;
    v = (threadIdx.x < nwarps) ? red[threadIdx.x] : 0.f;
    if (warp == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

// Launch-error check: Jittor surfaces cudaGetLastError after the op, but name the kernel here.
#define JV_CUDA_CHECK_LAUNCH(name)                                                         \
    do {                                                                                   \
        cudaError_t jv_err = cudaGetLastError();                                           \
        if (jv_err != cudaSuccess)                                                         \
            throw std::runtime_error(std::string(name) + ": " + cudaGetErrorString(jv_err)); \
    } while (0)

}  // namespace jvdwc
#endif  // JVDW_CUDA_H
