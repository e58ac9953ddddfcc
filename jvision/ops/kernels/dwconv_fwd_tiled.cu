// Depthwise convolution, forward, CUDA, "tiled" variant (kernel + host launcher; in cuda_header).
//   x [N, C, H, W], w [C, 1, KH, KW], bias [C] or null -> y [N, C, OH, OW]
// Block = one (n, c) plane x one tile of TH x TW outputs. The input patch that the tile reads
// (with its halo, zero outside the image) and the channel's weights are staged in shared
// memory once; each thread then computes RPT outputs of one column, reusing the weight it
// reads from shared memory for all of them. No atomics. Needs the patch to fit in 48 KiB of static
// shared memory (jvision.ops.dwconv.cuda_tile_smem_bytes).

namespace jvdwc {

constexpr int FWD_TW = 32, FWD_BY = 8, FWD_RPT = 2, FWD_TH = FWD_BY * FWD_RPT;

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(FWD_TW * FWD_BY)
dwconv_fwd_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                  T* __restrict__ y, int C, int H, int W, int OH, int OW) {
    constexpr int IH = (FWD_TH - 1) * SH + (KH - 1) * DH + 1;  // patch rows
    constexpr int IW = (FWD_TW - 1) * SW + (KW - 1) * DW + 1;  // patch cols
    __shared__ float patch[IH][IW + 1];
    __shared__ float ws[KH * KW];
    const int plane = blockIdx.x, c = plane % C;
    const int oh0 = blockIdx.y * FWD_TH, ow0 = blockIdx.z * FWD_TW;
    const int ih0 = oh0 * SH - PH, iw0 = ow0 * SW - PW;
    const T* xp = x + (size_t)plane * H * W;
    const int tid = threadIdx.y * FWD_TW + threadIdx.x, nt = FWD_TW * FWD_BY;
    stage_patch(&patch[0][0], IW + 1, IH, IW, xp, H, W, ih0, iw0, tid, nt);
    for (int k = tid; k < KH * KW; k += nt) ws[k] = to_f(w[(size_t)c * KH * KW + tap<KH * KW>(k)]);
    __syncthreads();
    const float bias = b ? to_f(b[c]) : 0.f;
    float acc[FWD_RPT];
#pragma unroll
    for (int r = 0; r < FWD_RPT; r++) acc[r] = bias;
    const int tx = threadIdx.x;
#pragma unroll 4
    for (int i = 0; i < KH; i++) {
#pragma unroll
        for (int j = 0; j < KW; j++) {
            const float wv = ws[i * KW + j];
#pragma unroll
            for (int r = 0; r < FWD_RPT; r++) {
                const int ty = threadIdx.y + r * FWD_BY;
                acc[r] += wv * patch[ty * SH + i * DH][tx * SW + j * DW];
            }
        }
    }
    const int ow = ow0 + tx;
#pragma unroll
    for (int r = 0; r < FWD_RPT; r++) {
        const int oh = oh0 + threadIdx.y + r * FWD_BY;
        if (oh < OH && ow < OW) y[(size_t)plane * OH * OW + (size_t)oh * OW + ow] = from_f<T>(acc[r]);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_fwd(const T* x, const T* w, const T* b, T* y, long long N, long long C,
                          long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    if (N * C == 0 || OH == 0 || OW == 0) return;
    dim3 block(FWD_TW, FWD_BY);
    dim3 grid((unsigned)(N * C), ceil_div((int)OH, FWD_TH), ceil_div((int)OW, FWD_TW));
    JV_LAUNCH(grid, block, dwconv_fwd_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (x, w, b, y, (int)C, (int)H, (int)W, (int)OH, (int)OW);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_fwd_kernel (tiled)");
}
