// Depthwise convolution, input gradient, CUDA, "direct" variant (kernel + host launcher).
//   dy [N, C, OH, OW], w [C, 1, KH, KW] -> dx [N, C, H, W]
//   dx[ih][iw] = sum_{i,j} w[i][j] * dy[oh][ow],  oh*SH = ih + PH - i*DH,  ow*SW = iw + PW - j*DW
// Gather form, one thread per dx element (grid-stride loop, coalesced along columns), taps that
// do not land on an output position skipped, every read from global memory through the caches.
// Any stride and dilation; written once per element, no atomics.
namespace jvdwc {

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(256)
dwconv_dgrad_direct_kernel(const T* __restrict__ dy, const T* __restrict__ w, T* __restrict__ dx,
                           int C, int H, int W, int OH, int OW, long long total) {
    constexpr int KK = KH * KW;
    for (long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        const int iw = (int)(idx % W);
        const long long rest = idx / W;
        const int ih = (int)(rest % H);
        const long long plane = rest / H;
        const int c = (int)(plane % C);
        const T* dyp = dy + plane * OH * OW;
        const T* wc = w + (size_t)c * KK;
        float acc = 0.f;
#pragma unroll 4
        for (int i = 0; i < KH; i++) {
            const int th = ih + PH - i * DH;
            if (th < 0 || (SH > 1 && th % SH)) continue;
            const int oh = th / SH;
            if (oh >= OH) continue;
#pragma unroll
            for (int j = 0; j < KW; j++) {
                const int tw = iw + PW - j * DW;
                if (tw < 0 || (SW > 1 && tw % SW)) continue;
                const int ow = tw / SW;
                if (ow < OW) acc += to_f(wc[i * KW + j]) * to_f(dyp[(size_t)oh * OW + ow]);
            }
        }
        dx[idx] = from_f<T>(acc);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_dgrad(const T* dy, const T* w, T* dx, long long N, long long C, long long H,
                            long long W, long long OH, long long OW) {
    using namespace jvdwc;
    const long long total = N * C * H * W;
    if (total == 0) return;
    const long long blocks = ceil_div_ll(total, 256) < (1LL << 30) ? ceil_div_ll(total, 256) : (1LL << 30);
    JV_LAUNCH(dim3((unsigned)blocks), dim3(256),
              dwconv_dgrad_direct_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (dy, w, dx, (int)C, (int)H, (int)W, (int)OH, (int)OW, total);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_dgrad_direct_kernel");
}
