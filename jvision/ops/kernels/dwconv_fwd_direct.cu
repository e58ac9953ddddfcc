// Depthwise convolution, forward, CUDA, "direct" variant (kernel + host launcher; in cuda_header).
//   x [N, C, H, W], w [C, 1, KH, KW], bias [C] or null -> y [N, C, OH, OW]
// One thread per output (grid-stride loop over N*C*OH*OW, consecutive threads on consecutive
// columns, so x and y accesses are coalesced), every tap read from global memory through the
// caches. No shared memory, any geometry: the baseline the other variants are measured against.
namespace jvdwc {

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(256)
dwconv_fwd_direct_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                         T* __restrict__ y, int C, int H, int W, int OH, int OW, long long total) {
    constexpr int KK = KH * KW;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const int ow = (int)(idx % OW);
        const long long rest = idx / OW;
        const int oh = (int)(rest % OH);
        const long long plane = rest / OH;
        const int c = (int)(plane % C);
        const T* xp = x + plane * H * W;
        const T* wc = w + (size_t)c * KK;
        float acc = b ? to_f(b[c]) : 0.f;
#pragma unroll 4
        for (int i = 0; i < KH; i++) {
            const int ih = oh * SH - PH + i * DH;
            if (ih < 0 || ih >= H) continue;
#pragma unroll
            for (int j = 0; j < KW; j++) {
                const int iw = ow * SW - PW + j * DW;
                if (iw >= 0 && iw < W) acc += to_f(wc[tap<KK>(i * KW + j)]) * to_f(xp[(size_t)ih * W + iw]);
            }
        }
        y[idx] = from_f<T>(acc);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_fwd(const T* x, const T* w, const T* b, T* y, long long N, long long C,
                          long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    const long long total = N * C * OH * OW;
    if (total == 0) return;
    const long long blocks = ceil_div_ll(total, 256) < (1LL << 30) ? ceil_div_ll(total, 256) : (1LL << 30);
    JV_LAUNCH(dim3((unsigned)blocks), dim3(256),
              dwconv_fwd_direct_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (x, w, b, y, (int)C, (int)H, (int)W, (int)OH, (int)OW, total);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_fwd_direct_kernel");
}
