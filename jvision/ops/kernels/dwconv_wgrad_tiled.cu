// Depthwise convolution, weight and bias gradients, CUDA, "tiled" variant (kernels + launcher).
//   x [N, C, H, W], dy [N, C, OH, OW] -> dw [C, 1, KH, KW] (or null), db [C] (or null)
// Pass 1: one block per (channel, split of the 8 x 32 output tiles of that channel's planes). Per
// tile the block stages dy and the x patch the tile's taps read in shared memory; the KK + 1 taps
// (the last one is the bias) are spread over the 256 threads, L threads per tap splitting the
// tile's 256 positions when there are few taps (L = 256 / KK rounded down to a power of two), up to
// WT_MAXT taps per thread when there are many. Each thread keeps its taps' sums in registers over
// all tiles of the split; the L partials of a tap are then added in shared memory and written to
// the scratch buffer ([splits, C, KK + 1] floats, jvision.ops.dwconv.wgrad_scratch). Pass 2
// (wgrad_reduce, dwconv_cuda.h) adds the splits in a fixed order: deterministic, no atomics.
// Any stride and dilation while the patch fits in shared memory.
namespace jvdwc {

constexpr int WT_TH = 8, WT_TW = 32, WT_THREADS = 256, WT_MAXT = 16;

template <int KK1> struct WTMap {
    static constexpr int lanes_raw = WT_THREADS / KK1 < 1 ? 1 : WT_THREADS / KK1;
    static constexpr int L = lanes_raw >= 128 ? 128 : lanes_raw >= 64 ? 64 : lanes_raw >= 32 ? 32 :
                             lanes_raw >= 16 ? 16 : lanes_raw >= 8 ? 8 : lanes_raw >= 4 ? 4 :
                             lanes_raw >= 2 ? 2 : 1;
    static constexpr int SLOTS = WT_THREADS / L;              // taps handled at once
    static constexpr int NT = (KK1 + SLOTS - 1) / SLOTS;     // taps per thread
};

template <class T, int KH, int KW, int SH, int SW, int DH, int DW, int PH, int PW>
__global__ void __launch_bounds__(WT_THREADS)
dwconv_wgrad_tiled_partial(const T* __restrict__ x, const T* __restrict__ dy, float* __restrict__ part,
                           int N, int C, int H, int W, int OH, int OW, int splits) {
    constexpr int KK = KH * KW, KK1 = KK + 1;
    constexpr int PR = (WT_TH - 1) * SH + (KH - 1) * DH + 1, PC = (WT_TW - 1) * SW + (KW - 1) * DW + 1;
    using M = WTMap<KK1>;
    static_assert(M::NT <= WT_MAXT, "dwconv_wgrad_tiled.cu: too many taps for the tiled variant");
    __shared__ float xs[PR][PC + 1];
    __shared__ float gs[WT_TH * WT_TW];
    __shared__ float red[WT_THREADS];
    const int c = blockIdx.x, split = blockIdx.y, tid = threadIdx.x;
    const int lane = tid % M::L, slot = tid / M::L;
    const int tiles_h = ceil_div(OH, WT_TH), tiles_w = ceil_div(OW, WT_TW);
    const long long units = (long long)N * tiles_h * tiles_w;
    const long long u0 = units * split / splits, u1 = units * (split + 1) / splits;
    float acc[M::NT];
#pragma unroll
    for (int s = 0; s < M::NT; s++) acc[s] = 0.f;
    for (long long u = u0; u < u1; u++) {
        const int tw = (int)(u % tiles_w), th = (int)((u / tiles_w) % tiles_h), n = (int)(u / ((long long)tiles_w * tiles_h));
        const int oh0 = th * WT_TH, ow0 = tw * WT_TW, ih0 = oh0 * SH - PH, iw0 = ow0 * SW - PW;
        const size_t pl = (size_t)n * C + c;
        const T* xp = x + pl * H * W;
        const T* dyp = dy + pl * OH * OW;
        __syncthreads();  // the previous tile's data is no longer read
        stage_patch(&xs[0][0], PC + 1, PR, PC, xp, H, W, ih0, iw0, tid, WT_THREADS);
        stage_patch(gs, WT_TW, WT_TH, WT_TW, dyp, OH, OW, oh0, ow0, tid, WT_THREADS);
        __syncthreads();
#pragma unroll
        for (int s = 0; s < M::NT; s++) {
            const int k = slot + s * M::SLOTS;
            if (k > KK) continue;
            float sum = 0.f;
            if (k == KK) {
                for (int p = lane; p < WT_TH * WT_TW; p += M::L) sum += gs[p];
            } else {
                const int i = k / KW, j = k % KW;
                for (int p = lane; p < WT_TH * WT_TW; p += M::L)
                    sum += gs[p] * xs[(p / WT_TW) * SH + i * DH][(p % WT_TW) * SW + j * DW];
            }
            acc[s] += sum;
        }
    }
#pragma unroll
    for (int s = 0; s < M::NT; s++) {
        __syncthreads();
        red[tid] = acc[s];
        __syncthreads();
        const int k = slot + s * M::SLOTS;
        if (lane == 0 && k <= KK) {
            float sum = 0.f;
            for (int l = 0; l < M::L; l++) sum += red[slot * M::L + l];
            part[((size_t)split * C + c) * KK1 + k] = sum;
        }
    }
}

}  // namespace jvdwc

template <class T>
static void jv_dwconv_wgrad(const T* x, const T* dy, T* dw, T* db, float* part, long long part_len,
                            long long N, long long C, long long H, long long W, long long OH, long long OW) {
    using namespace jvdwc;
    constexpr int KK = JV_KH * JV_KW;
    if (C == 0 || (!dw && !db)) return;
    const long long splits = jv_wgrad_splits(part_len, C, KK, "jvision dwconv_wgrad (tiled)");
    JV_LAUNCH(dim3((unsigned)C, (unsigned)splits), dim3(WT_THREADS),
              dwconv_wgrad_tiled_partial<T, JV_KH, JV_KW, JV_SH, JV_SW, JV_DH, JV_DW, JV_PH, JV_PW>)
        (x, dy, part, (int)N, (int)C, (int)H, (int)W, (int)OH, (int)OW, (int)splits);
    JV_CUDA_CHECK_LAUNCH("jvision dwconv_wgrad_tiled_partial");
    jv_wgrad_finish<T, KK>(part, dw, db, C, splits);
}
