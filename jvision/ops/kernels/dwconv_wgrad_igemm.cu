// Depthwise convolution, weight and bias gradients, CUDA, "igemm" variant for large kernels.
//   x [N, C, H, W], dy [N, C, OH, OW] -> dw [C, 1, KH, KW] (or null), db [C] (or null); stride and
//   dilation 1, kernels of at least 13 x 13 (jvision.ops.dwconv checks).
// Implicit GEMM: per output row oh, dw[i][j] += sum_q x[oh - PH + i][q - PW + j] * dy[oh][q], i.e.
// the x rows times the Toeplitz matrix of the dy row. One block per (channel, split of the 16 x 32
// output tiles); the taps are cut into 4 x 4 micro-tiles, one per thread (IW_TI x IW_TJ = 16
// accumulators in registers for the whole split), and when there are fewer micro-tiles than
// threads, R groups of threads take the tile's dy rows in turn. Along a dy row a thread slides a
// 4 x 4 window of x values by one column per position: 4 shared-memory reads (x, patch columns
// padded one in four against bank conflicts) and one broadcast read (dy) per 16 multiply-adds.
// The groups' micro-tiles are then added in shared memory, written per split to the scratch
// buffer ([splits, C, KK + 1], jvision.ops.dwconv.wgrad_scratch), and pass 2 (wgrad_reduce)
// adds the splits in a fixed order: deterministic, no atomics.
namespace jvdwc {

constexpr int IW_TH = 16, IW_TW = 32, IW_THREADS = 256, IW_TI = 4, IW_TJ = 4;

template <class T, int KH, int KW, int PH, int PW>
__global__ void __launch_bounds__(IW_THREADS)
dwconv_wgrad_igemm_partial(const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ part,
                           int N, int C, int H, int W, int OH, int OW, int splits) {
    constexpr int KK = KH * KW, KK1 = KK + 1;
    constexpr int GI = ceil_div(KH, IW_TI), GJ = ceil_div(KW, IW_TJ), TILES = GI * GJ;
    static_assert(TILES <= IW_THREADS, "dwconv_wgrad_igemm.cu: kernel too large (at most 64 x 64)");
    constexpr int R = IW_THREADS / TILES < IW_TH ? IW_THREADS / TILES : IW_TH;  // row groups
    constexpr int KHP = GI * IW_TI, KWP = GJ * IW_TJ;
    constexpr int PR = IW_TH + KHP - 1, PC = IW_TW + KWP, PCS = swz(PC) + 1;
    __shared__ float xs[PR * PCS];
    __shared__ float gs[IW_TH * IW_TW];
    __shared__ float tsum[KHP * KWP];
    __shared__ float red[32];
    const int c = blockIdx.x, split = blockIdx.y, tid = threadIdx.x;
    const int tile = tid % TILES, group = tid / TILES;
    const bool active = group < R;
    const int ti = (tile / GJ) * IW_TI, tj = (tile % GJ) * IW_TJ;
    const int tiles_h = ceil_div(OH, IW_TH), tiles_w = ceil_div(OW, IW_TW);
    const long long units = (long long)N * tiles_h * tiles_w;
    const long long u0 = units * split / splits, u1 = units * (split + 1) / splits;
    float acc[IW_TI][IW_TJ];
#pragma unroll
    for (int a = 0; a < IW_TI; a++)
#pragma unroll
        for (int q = 0; q < IW_TJ; q++) acc[a][q] = 0.f;
    float bsum = 0.f;
    for (long long u = u0; u < u1; u++) {
        const int tw = (int)(u % tiles_w), th = (int)((u / tiles_w) % tiles_h);
        const int n = (int)(u / ((long long)tiles_w * tiles_h));
        const int oh0 = th * IW_TH, ow0 = tw * IW_TW, ih0 = oh0 - PH, iw0 = ow0 - PW;
        const size_t pl = (size_t)n * C + c;
        const T* xp = x + pl * H * W;
        const T* dyp = dy + pl * OH * OW;
        __syncthreads();
        stage_patch(xs, PCS, PR, PC, xp, H, W, ih0, iw0, tid, IW_THREADS, Swizzled());
        stage_patch(gs, IW_TW, IW_TH, IW_TW, dyp, OH, OW, oh0, ow0, tid, IW_THREADS);
        __syncthreads();
        for (int k = tid; k < IW_TH * IW_TW; k += IW_THREADS) bsum += gs[k];  // each thread its own elements
        if (!active) continue;
        for (int r = group; r < IW_TH; r += R) {
            const float* g = gs + r * IW_TW;
            const float* rows[IW_TI];
            float win[IW_TI][IW_TJ];
#pragma unroll
            for (int a = 0; a < IW_TI; a++) {
                rows[a] = xs + (r + ti + a) * PCS;
#pragma unroll
                for (int q = 0; q < IW_TJ; q++) win[a][q] = rows[a][swz(tj + q)];
            }
#pragma unroll 8
            for (int p = 0; p < IW_TW; p++) {
                const float gv = g[p];
#pragma unroll
                for (int a = 0; a < IW_TI; a++) {
#pragma unroll
                    for (int q = 0; q < IW_TJ; q++) acc[a][q] += gv * win[a][q];
#pragma unroll
                    for (int q = 0; q + 1 < IW_TJ; q++) win[a][q] = win[a][q + 1];
                    win[a][IW_TJ - 1] = rows[a][swz(tj + IW_TJ + p)];
                }
            }
        }
    }
    // add the row groups' micro-tiles: group by group, so that no two threads add to one tap at once
    for (int k = tid; k < KHP * KWP; k += IW_THREADS) tsum[k] = 0.f;
    for (int grp = 0; grp < R; grp++) {
        __syncthreads();
        if (active && group == grp)
#pragma unroll
            for (int a = 0; a < IW_TI; a++)
#pragma unroll
                for (int q = 0; q < IW_TJ; q++) tsum[(ti + a) * KWP + tj + q] += acc[a][q];
    }
    const float bias = block_sum(bsum, red);  // syncs first: tsum is complete after it
    float* out = part + ((size_t)split * C + c) * KK1;
    for (int k = tid; k < KK; k += IW_THREADS) out[k] = tsum[(k / KW) * KWP + k % KW];
    if (tid == 0) out[KK] = bias;
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_wgrad(const T* x, const T* dy, T* dw, T* db, float* part, long long part_len,
                            long long N, long long C, long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    static_assert(JV_SH == 1 && JV_SW == 1 && JV_DH == 1 && JV_DW == 1,
                  "dwconv_wgrad_igemm.cu: stride and dilation 1 only");
    constexpr int KK = JV_KH * JV_KW;
    if (C == 0 || (!dw && !db)) return;
    const long long splits = jv_wgrad_splits(part_len, C, KK, "jvision dwconv_wgrad (igemm)");
    JV_LAUNCH(dim3((unsigned)C, (unsigned)splits), dim3(IW_THREADS),
              dwconv_wgrad_igemm_partial<T, JV_KH, JV_KW, JV_PH, JV_PW>)
        (x, dy, part, (int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, (int)splits);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_wgrad_igemm_partial");
    jv_wgrad_finish<T, KK>(part, dw, db, C, splits);
}
