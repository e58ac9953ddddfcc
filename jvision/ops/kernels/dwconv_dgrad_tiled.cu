// Depthwise convolution, input gradient, CUDA, "tiled" variant (kernel + host launcher).
//   dy [N, C, OH, OW], w [C, 1, KH, KW] -> dx [N, C, H, W]
//   dx[ih][iw] = sum_{i,j} w[i][j] * dy[oh][ow],  oh*SH = ih + PH - i*DH,  ow*SW = iw + PW - j*DW
// Gather form: one thread per dx element (RPT of them per thread), the block's dy patch and the
// weights staged in shared memory; every dx element is written exactly once (no atomics). Any
// stride; the patch must fit in 48 KiB (jvision.ops.dwconv.cuda_tile_smem_bytes).

namespace jvdwc {

constexpr int BWD_TW = 32, BWD_BY = 8, BWD_RPT = 2, BWD_TH = BWD_BY * BWD_RPT;

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(BWD_TW * BWD_BY)
dwconv_bwd_data_kernel(const T* __restrict__ dy, const T* __restrict__ w, T* __restrict__ dx,
                       int C, int H, int W, int OH, int OW) {
    // dy rows/cols that the tile's dx elements can reach.
    constexpr int PR = (BWD_TH - 1 + (KH - 1) * DH) / SH + 2;
    constexpr int PC = (BWD_TW - 1 + (KW - 1) * DW) / SW + 2;
    __shared__ float patch[PR][PC + 1];
    __shared__ float ws[KH * KW];
    const int plane = blockIdx.x, c = plane % C;
    const int ih0 = blockIdx.y * BWD_TH, iw0 = blockIdx.z * BWD_TW;
    const int oh_lo = floor_div(ih0 + PH - (KH - 1) * DH, SH);
    const int ow_lo = floor_div(iw0 + PW - (KW - 1) * DW, SW);
    const T* dyp = dy + (size_t)plane * OH * OW;
    const int tid = threadIdx.y * BWD_TW + threadIdx.x, nt = BWD_TW * BWD_BY;
    stage_patch(&patch[0][0], PC + 1, PR, PC, dyp, OH, OW, oh_lo, ow_lo, tid, nt);
    for (int k = tid; k < KH * KW; k += nt) ws[k] = to_f(w[(size_t)c * KH * KW + k]);
    __syncthreads();
    const int iw = iw0 + threadIdx.x;
#pragma unroll
    for (int r = 0; r < BWD_RPT; r++) {
        const int ih = ih0 + threadIdx.y + r * BWD_BY;
        float acc = 0.f;
#pragma unroll 4
        for (int i = 0; i < KH; i++) {
            const int th = ih + PH - i * DH;
            if (SH > 1 && ((th % SH) + SH) % SH) continue;
            const int pr = floor_div(th, SH) - oh_lo;
#pragma unroll
            for (int j = 0; j < KW; j++) {
                const int tw = iw + PW - j * DW;
                if (SW > 1 && ((tw % SW) + SW) % SW) continue;
                acc += ws[i * KW + j] * patch[pr][floor_div(tw, SW) - ow_lo];
            }
        }
        if (ih < H && iw < W) dx[(size_t)plane * H * W + (size_t)ih * W + iw] = from_f<T>(acc);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_dgrad(const T* dy, const T* w, T* dx, long long N, long long C,
                            long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    if (N * C == 0 || H == 0 || W == 0) return;
    dim3 block(BWD_TW, BWD_BY);
    dim3 grid((unsigned)(N * C), ceil_div((int)H, BWD_TH), ceil_div((int)W, BWD_TW));
    JV_LAUNCH(grid, block, dwconv_bwd_data_kernel<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (dy, w, dx, (int)C, (int)H, (int)W, (int)OH, (int)OW);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_bwd_data_kernel (tiled)");
}
