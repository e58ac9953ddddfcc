// ConvMod (Conv2Former) modulation, forward, CUDA, "fused" variant:
//   y = (dwconv(GELU(a)) + b) * v        a, v [N,C,H,W], w [C,1,KH,KW], b [C] -> y [N,C,H,W]
// (a = att.0(x) and v = v(x) are the caller's 1x1 convolutions.) One block per (plane, 16 x 32
// output tile): the a patch with its halo is staged in shared memory with GELU applied on the way
// in (GELU(0) = 0 keeps the zero padding), the depthwise convolution ("same", stride 1) reads it
// from there and its output is multiplied by v before the only write. GELU is the exact form
// x * Phi(x), as torch.nn.GELU() and jittor.nn.GELU. Compile-time: JV_KH JV_KW JV_DH JV_DW JV_PH JV_PW.
namespace jvdwc {

constexpr int CM_TW = 32, CM_BY = 8, CM_RPT = 2, CM_TH = CM_BY * CM_RPT;

struct Gelu {  // x * Phi(x), exact
    __device__ __forceinline__ float operator()(float t) const { return 0.5f * t * (1.f + erff(t * 0.70710678118654752f)); }
};

template <class T, int KH, int KW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(CM_TW * CM_BY)
convmod_fwd_fused_kernel(const T* __restrict__ a, const T* __restrict__ v, const T* __restrict__ w,
                         const T* __restrict__ b, T* __restrict__ y, int C, int H, int W) {
    constexpr int PR = CM_TH + (KH - 1) * DH, PC = CM_TW + (KW - 1) * DW;
    __shared__ float gs[PR][PC + 1];
    __shared__ float ws[KH * KW];
    const int plane = blockIdx.x, c = plane % C;
    const int oh0 = blockIdx.y * CM_TH, ow0 = blockIdx.z * CM_TW, ih0 = oh0 - PH, iw0 = ow0 - PW;
    const size_t off = (size_t)plane * H * W;
    const int tid = threadIdx.y * CM_TW + threadIdx.x, nt = CM_TW * CM_BY;
    stage_patch(&gs[0][0], PC + 1, PR, PC, a + off, H, W, ih0, iw0, tid, nt, Plain(), Gelu());
    for (int k = tid; k < KH * KW; k += nt) ws[k] = to_f(w[(size_t)c * KH * KW + k]);
    __syncthreads();
    const float bias = to_f(b[c]);
    const int tx = threadIdx.x, ow = ow0 + tx;
#pragma unroll
    for (int rr = 0; rr < CM_RPT; rr++) {
        const int ty = threadIdx.y + rr * CM_BY, oh = oh0 + ty;
        const float acc = bias + smem_conv<KH, KW, DH, DW>(ws, &gs[0][0], PC + 1, ty, tx);
        if (oh < H && ow < W) {
            const size_t o = off + (size_t)oh * W + ow;
            y[o] = from_f<T>(acc * to_f(v[o]));
        }
    }
}

}  // namespace jvdwc

template <class T>
static void jv_convmod_fwd(const T* a, const T* v, const T* w, const T* b, T* y, long long N, long long C,
                           long long H, long long W) {
    using namespace jvdwc;
    if (N * C == 0 || H == 0 || W == 0) return;
    dim3 grid((unsigned)(N * C), ceil_div((int)H, CM_TH), ceil_div((int)W, CM_TW));
    JV_LAUNCH(grid, dim3(CM_TW, CM_BY), convmod_fwd_fused_kernel<T, JV_KH, JV_KW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (a, v, w, b, y, (int)C, (int)H, (int)W);
    JV_CUDA_CHECK_LAUNCH("jvision convmod_fwd_fused_kernel");
}
