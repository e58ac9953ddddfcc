// Modulated deformable im2col, backward, CPU: the gradients of col = im2col(x, offset, mask).
//   in0  x [N, C, H, W]   in1  offset [N, DG*2*K, OH, OW]   in2  mask [N, DG*K, OH, OW]
//   in3  dcol [N, C*K, OH*OW]
//   outputs, in order, those asked for: dx [N, C, H, W] (JV_NEED_DX); doffset, dmask (JV_NEED_DOM)
// Compile-time: JV_KH JV_KW JV_SH JV_SW JV_PH JV_PW JV_DH JV_DW JV_NEED_DX JV_NEED_DOM.
// dx: one task per (n, c) input plane; it scatters every tap of that channel into its own plane
// (no atomics, no races). doffset / dmask: one task per (n, deform group, tap); it owns those
// output rows and sums over the channels of the group.
@alias(x, in0)
@alias(off, in1)
@alias(msk, in2)
@alias(dcol, in3)
{
    using namespace jvdcn;
    typedef x_type T;
    constexpr int KH = JV_KH, KW = JV_KW, K = KH * KW;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const int OH = off_shape2, OW = off_shape3;
    const long L = (long)OH * OW;
    const int DG = msk_shape1 / K, CG = C / DG;
    #pragma omp parallel
    {
        std::vector<Tap<T>> taps(L);
#if JV_NEED_DX
        #pragma omp for schedule(static)
        for (long p = 0; p < (long)N * C; p++) {
            const int n = (int)(p / C), c = (int)(p % C), g = c / CG;
            const long ng = (long)n * DG + g;
            T* d = dx_p + p * H * W;
            std::memset(d, 0, sizeof(T) * H * W);
            for (int k = 0; k < K; k++) {
                const T* oy = off_p + (ng * 2 * K + 2 * k) * L;
                const T* m = msk_p + (ng * K + k) * L;
                const T* gc = dcol_p + (p * K + k) * L;
                make_taps<T, KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(oy, oy + L, k, H, W, OH, OW, taps.data());
                for (long l = 0; l < L; l++) scatter<T>(d, H, W, taps[l], gc[l] * m[l]);
            }
        }
#endif
#if JV_NEED_DOM
        #pragma omp for schedule(static)
        for (long t = 0; t < (long)N * DG * K; t++) {
            const int k = (int)(t % K);
            const long ng = t / K;
            const int n = (int)(ng / DG), g = (int)(ng % DG);
            const T* oy = off_p + (ng * 2 * K + 2 * k) * L;
            const T* m = msk_p + (ng * K + k) * L;
            T* doy = doff_p + (ng * 2 * K + 2 * k) * L;
            T* dox = doy + L;
            T* dm = dmsk_p + (ng * K + k) * L;
            std::memset(doy, 0, sizeof(T) * 2 * L);
            std::memset(dm, 0, sizeof(T) * L);
            make_taps<T, KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(oy, oy + L, k, H, W, OH, OW, taps.data());
            for (int cg = 0; cg < CG; cg++) {
                const int c = g * CG + cg;
                const T* xp = x_p + ((long)n * C + c) * H * W;
                const T* gc = dcol_p + (((long)n * C + c) * K + k) * L;
                for (long l = 0; l < L; l++) {
                    T gy, gx;
                    const T v = sample<T, true>(xp, H, W, taps[l], &gy, &gx);
                    const T gm = gc[l] * m[l];
                    dm[l] += gc[l] * v;
                    doy[l] += gm * gy;
                    dox[l] += gm * gx;
                }
            }
        }
#endif
    }
}
