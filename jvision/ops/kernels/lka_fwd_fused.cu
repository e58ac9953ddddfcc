// LKA (VAN) spatial part, forward, CUDA, "fused" variant: attn = convB(convA(x)) in one kernel.
//   x [N,C,H,W], wA [C,1,AKH,AKW], bA [C], wB [C,1,BKH,BKW], bB [C] -> attn [N,C,H,W]
//   and a = convA(x) [N,C,H,W] when a is not null (kept for the backward pass).
// Both convolutions are stride 1 with "same" padding (VAN: A = 5x5 pad 2, B = 7x7 dilation 3 pad 9).
// One block per (plane, 16 x 32 output tile): the x patch of the tile with both halos is staged in
// shared memory, convA is evaluated on the tile grown by convB's halo (zero outside the image:
// convB pads a, not x) into shared memory, then convB gives the tile. a never goes to memory
// unless it is asked for. Compile-time: JV_A_KH JV_A_KW JV_A_DH JV_A_DW JV_A_PH JV_A_PW, same for B.
namespace jvdwc {

constexpr int LK_TW = 32, LK_BY = 8, LK_RPT = 2, LK_TH = LK_BY * LK_RPT;

template <class T, int AKH, int AKW, int ADH, int ADW, int APH, int APW,
          int BKH, int BKW, int BDH, int BDW, int BPH, int BPW>
__global__ void __launch_bounds__(LK_TW * LK_BY)
lka_fwd_fused_kernel(const T* __restrict__ x, const T* __restrict__ wa, const T* __restrict__ ba,
                     const T* __restrict__ wb, const T* __restrict__ bb, T* __restrict__ y,
                     T* __restrict__ a_out, int C, int H, int W) {
    constexpr int AR = LK_TH + 2 * BPH, AC = LK_TW + 2 * BPW;   // a region
    constexpr int XR = AR + 2 * APH, XC = AC + 2 * APW;         // x patch
    __shared__ float xs[XR][XC + 1];
    __shared__ float as[AR][AC + 1];
    __shared__ float wsa[AKH * AKW], wsb[BKH * BKW];
    const int plane = blockIdx.x, c = plane % C;
    const int oh0 = blockIdx.y * LK_TH, ow0 = blockIdx.z * LK_TW;
    const int ar0 = oh0 - BPH, ac0 = ow0 - BPW;                 // image position of as[0][0]
    const int xr0 = ar0 - APH, xc0 = ac0 - APW;                 // image position of xs[0][0]
    const size_t off = (size_t)plane * H * W;
    const int tid = threadIdx.y * LK_TW + threadIdx.x, nt = LK_TW * LK_BY;
    stage_patch(&xs[0][0], XC + 1, XR, XC, x + off, H, W, xr0, xc0, tid, nt);
    for (int k = tid; k < AKH * AKW; k += nt) wsa[k] = to_f(wa[(size_t)c * AKH * AKW + k]);
    for (int k = tid; k < BKH * BKW; k += nt) wsb[k] = to_f(wb[(size_t)c * BKH * BKW + k]);
    __syncthreads();
    const float bias_a = to_f(ba[c]), bias_b = to_f(bb[c]);
    for (int k = tid; k < AR * AC; k += nt) {
        const int r = k / AC, q = k % AC, gh = ar0 + r, gw = ac0 + q;
        float v = 0.f;
        if (gh >= 0 && gh < H && gw >= 0 && gw < W) {
            v = bias_a + smem_conv<AKH, AKW, ADH, ADW>(wsa, &xs[0][0], XC + 1, r, q);
            if (a_out && r >= BPH && r < BPH + LK_TH && q >= BPW && q < BPW + LK_TW)
                a_out[off + (size_t)gh * W + gw] = from_f<T>(v);
        }
        as[r][q] = v;
    }
    __syncthreads();
    const int tx = threadIdx.x, ow = ow0 + tx;
#pragma unroll
    for (int rr = 0; rr < LK_RPT; rr++) {
        const int ty = threadIdx.y + rr * LK_BY, oh = oh0 + ty;
        const float v = bias_b + smem_conv<BKH, BKW, BDH, BDW>(wsb, &as[0][0], AC + 1, ty, tx);
        if (oh < H && ow < W) y[off + (size_t)oh * W + ow] = from_f<T>(v);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_lka_fwd(const T* x, const T* wa, const T* ba, const T* wb, const T* bb, T* y, T* a,
                       long long N, long long C, long long H, long long W) {
    using namespace jvdwc;
    if (N * C == 0 || H == 0 || W == 0) return;
    dim3 grid((unsigned)(N * C), ceil_div((int)H, LK_TH), ceil_div((int)W, LK_TW));
    JV_LAUNCH(grid, dim3(LK_TW, LK_BY),
              lka_fwd_fused_kernel<T, JV_A_KH, JV_A_KW, JV_A_DH, JV_A_DW, JV_A_PH, JV_A_PW,
                                   JV_B_KH, JV_B_KW, JV_B_DH, JV_B_DW, JV_B_PH, JV_B_PW>)
        (x, wa, ba, wb, bb, y, a, (int)C, (int)H, (int)W);
    JV_CUDA_CHECK_LAUNCH("jvision lka_fwd_fused_kernel");
}
