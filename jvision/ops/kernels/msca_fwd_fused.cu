// MSCA (SegNeXt) spatial part, forward, CUDA, "fused" variant:
//   a = conv0(x) (K0 x K0, "same");  s = a + sum_k convk_2(convk_1(a))  (1 x Sk then Sk x 1, "same")
//   x [N,C,H,W], w[7] / b[7] in the order conv0, conv0_1, conv0_2, conv1_1, ... -> s [N,C,H,W]
// One block per (plane, 16 x 32 output tile). The x patch (tile + the strips' halo PM + conv0's
// halo) goes to shared memory; a is evaluated on the tile grown by PM on every side (zero outside
// the image: the strips pad a); then, branch by branch, the horizontal strip fills h on the grown
// rows (zero on rows outside the image: the vertical strip pads h) and the vertical strip adds its
// output to the two sums each thread keeps in registers. Only x is read and only s is written.
// Compile-time: JV_K0 (5), JV_S1 JV_S2 JV_S3 (7, 11, 21).
namespace jvdwc {

constexpr int MS_TW = 32, MS_BY = 8, MS_RPT = 2, MS_TH = MS_BY * MS_RPT;

template <class T, int K0, int S1, int S2, int S3>
__global__ void __launch_bounds__(MS_TW * MS_BY)
msca_fwd_fused_kernel(const T* __restrict__ x, const T* __restrict__ w0, const T* __restrict__ b0,
                      const T* __restrict__ w1, const T* __restrict__ b1, const T* __restrict__ w2,
                      const T* __restrict__ b2, const T* __restrict__ w3, const T* __restrict__ b3,
                      const T* __restrict__ w4, const T* __restrict__ b4, const T* __restrict__ w5,
                      const T* __restrict__ b5, const T* __restrict__ w6, const T* __restrict__ b6,
                      T* __restrict__ s, int C, int H, int W) {
    constexpr int P0 = K0 / 2, PM = imax(S1, imax(S2, S3)) / 2;
    constexpr int AR = MS_TH + 2 * PM, AC = MS_TW + 2 * PM, XR = AR + 2 * P0, XC = AC + 2 * P0;
    constexpr int NW = K0 * K0 + 2 * (S1 + S2 + S3);
    __shared__ float xs[XR][XC + 1];
    __shared__ float as[AR][AC + 1];
    __shared__ float hs[AR][MS_TW + 1];
    __shared__ float ws[NW];
    const int plane = blockIdx.x, c = plane % C;
    const int oh0 = blockIdx.y * MS_TH, ow0 = blockIdx.z * MS_TW;
    const int ar0 = oh0 - PM, ac0 = ow0 - PM, xr0 = ar0 - P0, xc0 = ac0 - P0;
    const size_t off = (size_t)plane * H * W;
    const int tid = threadIdx.y * MS_TW + threadIdx.x, nt = MS_TW * MS_BY;
    stage_patch(&xs[0][0], XC + 1, XR, XC, x + off, H, W, xr0, xc0, tid, nt);
    // weights: w0 | w0_1 w0_2 | w1_1 w1_2 | w2_1 w2_2
    const T* wsrc[7] = {w0, w1, w2, w3, w4, w5, w6};
    const int wlen[7] = {K0 * K0, S1, S1, S2, S2, S3, S3};
    for (int t = 0, base = 0; t < 7; base += wlen[t], t++)
        for (int k = tid; k < wlen[t]; k += nt) ws[base + k] = to_f(wsrc[t][(size_t)c * wlen[t] + k]);
    __syncthreads();
    const float bias0 = to_f(b0[c]);
    for (int k = tid; k < AR * AC; k += nt) {
        const int r = k / AC, q = k % AC, gh = ar0 + r, gw = ac0 + q;
        const bool inside = gh >= 0 && gh < H && gw >= 0 && gw < W;
        as[r][q] = inside ? bias0 + smem_conv<K0, K0, 1, 1>(ws, &xs[0][0], XC + 1, r, q) : 0.f;
    }
    __syncthreads();
    const int tx = threadIdx.x;
    float acc[MS_RPT];
#pragma unroll
    for (int rr = 0; rr < MS_RPT; rr++) acc[rr] = as[PM + threadIdx.y + rr * MS_BY][PM + tx];
    const T* bh[3] = {b1, b3, b5};
    const T* bv[3] = {b2, b4, b6};
    const int sizes[3] = {S1, S2, S3};
    int base = K0 * K0;
    for (int br = 0; br < 3; br++) {
        const int S = sizes[br], P = S / 2;
        const float* wh = ws + base;
        const float* wv = ws + base + S;
        base += 2 * S;
        const float bias_h = to_f(bh[br][c]), bias_v = to_f(bv[br][c]);
        __syncthreads();  // hs of the previous branch is no longer read
        for (int k = tid; k < (MS_TH + 2 * P) * MS_TW; k += nt) {
            const int r = PM - P + k / MS_TW, q = k % MS_TW, gh = ar0 + r;
            float v = 0.f;
            if (gh >= 0 && gh < H) {
                v = bias_h;
                for (int j = 0; j < S; j++) v += wh[j] * as[r][PM - P + q + j];
            }
            hs[r][q] = v;
        }
        __syncthreads();
#pragma unroll
        for (int rr = 0; rr < MS_RPT; rr++) {
            const int ty = threadIdx.y + rr * MS_BY;
            float v = bias_v;
            for (int i = 0; i < S; i++) v += wv[i] * hs[PM - P + ty + i][tx];
            acc[rr] += v;
        }
    }
    const int ow = ow0 + tx;
#pragma unroll
    for (int rr = 0; rr < MS_RPT; rr++) {
        const int oh = oh0 + threadIdx.y + rr * MS_BY;
        if (oh < H && ow < W) s[off + (size_t)oh * W + ow] = from_f<T>(acc[rr]);
    }
}

}  // namespace jvdwc

template <class T>
static void jv_msca_fwd(const T* x, const T* const* w, const T* const* b, T* s, long long N, long long C,
                        long long H, long long W) {
    using namespace jvdwc;
    if (N * C == 0 || H == 0 || W == 0) return;
    dim3 grid((unsigned)(N * C), ceil_div((int)H, MS_TH), ceil_div((int)W, MS_TW));
    JV_LAUNCH(grid, dim3(MS_TW, MS_BY), msca_fwd_fused_kernel<T, JV_K0, JV_S1, JV_S2, JV_S3>)
        (x, w[0], b[0], w[1], b[1], w[2], b[2], w[3], b[3], w[4], b[4], w[5], b[5], w[6], b[6], s,
         (int)C, (int)H, (int)W);
    JV_CUDA_CHECK_LAUNCH("jvision msca_fwd_fused_kernel");
}
