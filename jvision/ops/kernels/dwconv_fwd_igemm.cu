// Depthwise convolution, forward, CUDA, "igemm" variant for large kernels (kernel + launcher).
//   x [N, C, H, W], w [C, 1, KH, KW], bias [C] or null -> y [N, C, OH, OW]; stride and dilation 1.
// The implicit-GEMM view of a depthwise convolution (RepLKNet, after MegEngine's large-kernel
// kernels): per filter row i, a tile of outputs Y (rows x cols) is the product of the input rows
// X[r + i][:] with the Toeplitz matrix T_i[q][c] = w[i][q - c]. No matrix is formed: a block stages
// the input patch of a 32 x 64 output tile in shared memory, and each thread keeps a 2 x 4 micro-tile
// of outputs in registers; along a filter row it slides a 2 x 4 window of inputs by one column per
// tap (one new shared-memory read per row per tap), so every input value read serves 4 outputs
// and every weight (a broadcast read) 8. Patch columns are stored with one padding float in four
// (swz), so the 16 threads of a half-warp, whose columns are 4 apart, hit 16 different banks.
// Float accumulation; no atomics. JV_FLIP = 1 rotates the kernel (input gradient, see
// dwconv_dgrad_igemm.cu); a negative padding is a crop.
namespace jvdwc {

constexpr int IG_TX = 16, IG_TY = 16, IG_RN = 4, IG_RM = 2;
constexpr int IG_BW = IG_TX * IG_RN, IG_BH = IG_TY * IG_RM;  // 64 x 32 outputs per block

template <class T, int KH, int KW, int PH, int PW>
__global__ void __launch_bounds__(IG_TX * IG_TY)
dwconv_fwd_igemm_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                        T* __restrict__ y, int C, int H, int W, int OH, int OW) {
    constexpr int KK = KH * KW;
    constexpr int PR = IG_BH + KH - 1, PC = IG_BW + KW - 1, PCS = swz(PC) + 1;
    __shared__ float patch[PR * PCS];
    __shared__ float ws[KK];
    const int plane = blockIdx.x, c = plane % C;
    const int oh0 = blockIdx.y * IG_BH, ow0 = blockIdx.z * IG_BW;
    const int ih0 = oh0 - PH, iw0 = ow0 - PW;
    const T* xp = x + (size_t)plane * H * W;
    const int tid = threadIdx.y * IG_TX + threadIdx.x, nt = IG_TX * IG_TY;
    stage_patch(patch, PCS, PR, PC, xp, H, W, ih0, iw0, tid, nt, Swizzled());
    for (int k = tid; k < KK; k += nt) ws[k] = to_f(w[(size_t)c * KK + tap<KK>(k)]);
    __syncthreads();
    const float bias = b ? to_f(b[c]) : 0.f;
    const int r0 = threadIdx.y * IG_RM, c0 = threadIdx.x * IG_RN;
    float acc[IG_RM][IG_RN];
#pragma unroll
    for (int r = 0; r < IG_RM; r++)
#pragma unroll
        for (int q = 0; q < IG_RN; q++) acc[r][q] = bias;
#pragma unroll 1
    for (int i = 0; i < KH; i++) {
        const float* rows[IG_RM];
        float win[IG_RM][IG_RN];
#pragma unroll
        for (int r = 0; r < IG_RM; r++) {
            rows[r] = patch + (r0 + r + i) * PCS;
#pragma unroll
            for (int q = 0; q < IG_RN; q++) win[r][q] = rows[r][swz(c0 + q)];
        }
        const float* wi = ws + i * KW;
#pragma unroll
        for (int j = 0; j < KW; j++) {
            const float wv = wi[j];
#pragma unroll
            for (int r = 0; r < IG_RM; r++)
#pragma unroll
                for (int q = 0; q < IG_RN; q++) acc[r][q] += wv * win[r][q];
            if (j + 1 < KW) {
#pragma unroll
                for (int r = 0; r < IG_RM; r++) {
#pragma unroll
                    for (int q = 0; q + 1 < IG_RN; q++) win[r][q] = win[r][q + 1];
                    win[r][IG_RN - 1] = rows[r][swz(c0 + IG_RN + j)];
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < IG_RM; r++) {
        const int oh = oh0 + r0 + r;
        if (oh >= OH) continue;
#pragma unroll
        for (int q = 0; q < IG_RN; q++) {
            const int ow = ow0 + c0 + q;
            if (ow < OW) y[(size_t)plane * OH * OW + (size_t)oh * OW + ow] = from_f<T>(acc[r][q]);
        }
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_fwd(const T* x, const T* w, const T* b, T* y, long long N, long long C,
                          long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    static_assert(JV_SH == 1 && JV_SW == 1 && JV_DH == 1 && JV_DW == 1,
                  "dwconv_fwd_igemm.cu: stride and dilation 1 only");
    if (N * C == 0 || OH == 0 || OW == 0) return;
    dim3 grid((unsigned)(N * C), ceil_div((int)OH, IG_BH), ceil_div((int)OW, IG_BW));
    JV_LAUNCH(grid, dim3(IG_TX, IG_TY), dwconv_fwd_igemm_kernel<T, JV_KH, JV_KW, JV_PH, JV_PW>)
        (x, w, b, y, (int)C, (int)H, (int)W, (int)OH, (int)OW);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_fwd_igemm_kernel");
}
