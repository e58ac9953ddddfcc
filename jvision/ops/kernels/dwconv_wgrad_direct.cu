// Depthwise convolution, weight and bias gradients, CUDA, "direct" variant (kernels + launcher).
//   x [N, C, H, W], dy [N, C, OH, OW] -> dw [C, 1, KH, KW] (or null), db [C] (or null)
//   dw[c][i][j] = sum_{n,oh,ow} dy[n,c,oh,ow] * x[n, c, oh*SH - PH + i*DH, ow*SW - PW + j*DW]
// Pass 1: grid (C, tap groups, position splits). Each thread keeps TAPS per-tap partial sums in
// registers while it strides over the (n, oh, ow) positions of its split; consecutive threads
// read consecutive ow, so loads are coalesced, and x is read straight from global memory. The
// block reduces each tap with warp shuffles and writes one partial per (split, c, tap) to a
// scratch buffer: no atomics. Pass 2 (wgrad_reduce, dwconv_cuda.h) adds the splits in a fixed
// order: deterministic. The scratch buffer ([splits, C, KK + 1] floats) is an extra output of the
// jt.code op, sized by jvision.ops.dwconv.wgrad_scratch. Any geometry.
namespace jvdwc {

constexpr int WG_THREADS = 256, WG_TAPS = 8;

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(WG_THREADS)
dwconv_bwd_weight_partial(const T* __restrict__ x, const T* __restrict__ dy,
                          float* __restrict__ part, int N, int C, int H, int W, int OH, int OW,
                          int splits, int group0, bool with_bias) {
    constexpr int KK = KH * KW;
    constexpr int NG = ceil_div(KK, WG_TAPS);            // tap groups; group NG holds the bias
    __shared__ float red[32];
    const int c = blockIdx.x, grp = blockIdx.y + group0, split = blockIdx.z;
    const bool bias_grp = (grp == NG);
    const long long P = (long long)N * OH * OW;
    const long long chunk = (P + splits - 1) / splits;
    const long long p0 = (long long)split * chunk, p1 = p0 + chunk < P ? p0 + chunk : P;
    float acc[WG_TAPS];
#pragma unroll
    for (int t = 0; t < WG_TAPS; t++) acc[t] = 0.f;
    for (long long p = p0 + threadIdx.x; p < p1; p += blockDim.x) {
        const int ow = (int)(p % OW);
        const long long rest = p / OW;
        const int oh = (int)(rest % OH), n = (int)(rest / OH);
        const size_t pl = (size_t)n * C + c;
        const float g = to_f(dy[pl * OH * OW + (size_t)oh * OW + ow]);
        if (bias_grp) {
            acc[0] += g;
            continue;
        }
        const T* xp = x + pl * H * W;
#pragma unroll
        for (int t = 0; t < WG_TAPS; t++) {
            const int k = grp * WG_TAPS + t;
            if (k < KK) {
                const int i = k / KW, j = k % KW;
                const int ih = oh * SH - PH + i * DH, iw = ow * SW - PW + j * DW;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) acc[t] += g * to_f(xp[(size_t)ih * W + iw]);
            }
        }
    }
    const int ntaps = bias_grp ? (with_bias ? 1 : 0) : WG_TAPS;
    for (int t = 0; t < ntaps; t++) {
        const float s = block_sum(acc[t], red);
        const int k = bias_grp ? KK : grp * WG_TAPS + t;
        if (threadIdx.x == 0 && (bias_grp || k < KK)) part[((size_t)split * C + c) * (KK + 1) + k] = s;
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_wgrad(const T* x, const T* dy, T* dw, T* db, float* part, long long part_len,
                            long long N, long long C, long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    constexpr int KK = JV_KH * JV_KW;
    constexpr int NG = ceil_div(KK, WG_TAPS);
    if (C == 0 || (!dw && !db)) return;
    const long long splits = jv_wgrad_splits(part_len, C, KK, "jvision dwconv_wgrad (direct)");
    if (N * OH * OW > 0) {
        // Tap groups 0..NG-1 when dw is wanted, then group NG (the bias) when db is.
        dim3 grid((unsigned)C, (dw ? NG : 0) + (db ? 1 : 0), (unsigned)splits);
        JV_LAUNCH(grid, dim3(WG_THREADS),
                  dwconv_bwd_weight_partial<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
            (x, dy, part, (int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, (int)splits, dw ? 0 : NG,
             db != nullptr);
        JV_CUDA_CHECK_LAUNCH("jvision dwconv_bwd_weight_partial (direct)");
    } else {
        cudaMemsetAsync(part, 0, (size_t)splits * C * (KK + 1) * sizeof(float));
    }
    jv_wgrad_finish<T, KK>(part, dw, db, C, splits);
}
