// Depthwise convolution, backward, CPU: input, weight and bias gradients in one pass over the
// planes (body of a jt.code op; building blocks in dwconv_cpu.h).
//   in0 x [N, C, H, W]     in1 w [C, 1, KH, KW]     in2 dy [N, C, OH, OW]
//   outputs, in this order, those that are requested:
//     dx [N, C, H, W] (JV_NEED_DX)   dw [C, 1, KH, KW] (JV_NEED_DW)   db [C] (JV_NEED_DB)
// The caller emits the alias lines naming the outputs dx / dw / db (and the unused scratch).
// dx: stride 1 is a forward convolution of dy, padded by (K-1)*D - P, with the flipped kernel;
//     larger strides scatter dy into a padded polyphase buffer (contiguous in output columns)
//     and crop it. dw and db: per-plane partial sums (no atomics), reduced over the batch at
//     the end by channel.
@alias(x, in0)
@alias(w, in1)
@alias(dy, in2)
{
    using namespace jvdw;
    constexpr int KH = JV_KH, KW = JV_KW, SH = JV_SH, SW = JV_SW, DH = JV_DH, DW = JV_DW;
    constexpr int PH = JV_PH, PW = JV_PW, KK = KH * KW;
    constexpr bool STRIDED = (SH != 1 || SW != 1);
    constexpr bool NEED_DX = JV_NEED_DX, NEED_DW = JV_NEED_DW, NEED_DB = JV_NEED_DB;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const int OH = dy_shape2, OW = dy_shape3;
    const long NC = (long)N * C;
    const int dpitch = round_up(OW, VL);
    const PadGeom gx = pad_geom<KH, KW, SH, SW, DH, DW>(OH, OW);   // x (for dw), scatter (dx)
    const PadGeom gd = pad_geom<KH, KW, 1, 1, DH, DW>(H, W);       // padded dy (dx, stride 1)
    std::vector<float> part_w(NEED_DW ? (size_t)NC * KK : 0), part_b(NEED_DB ? (size_t)NC : 0);
    const bool use_dyv = NEED_DW || (NEED_DX && STRIDED);
    #pragma omp parallel
    {
        std::vector<float> bx(NEED_DW ? gx.size() : 0);
        std::vector<float> bs(NEED_DX && STRIDED ? gx.size() : 0);
        std::vector<float> bd(NEED_DX && !STRIDED ? gd.size() : 0);
        std::vector<float> bdy(use_dyv ? (size_t)OH * dpitch : 0);
        float wf[KK];
        #pragma omp for schedule(static)
        for (long p = 0; p < NC; p++) {
            const int c = (int)(p % C);
            const float* dyp = dy_p + p * OH * OW;
            const float* wc = w_p + (long)c * KK;
            if (use_dyv) load_rows_vpad(dyp, OH, OW, bdy.data());
            if (NEED_DW) {
                float* pw = part_w.data() + p * KK;
                for (int k = 0; k < KK; k++) pw[k] = 0.f;
                load_padded<SW>(x_p + p * H * W, H, W, PH, PW, gx, bx.data());
                wgrad_plane<KH, KW, SH, SW, DH, DW>(bx.data(), gx, bdy.data(), dpitch, OH, OW, pw);
            }
            if (NEED_DB) {
                float s = 0.f;
                for (long k = 0; k < (long)OH * OW; k++) s += dyp[k];
                part_b[p] = s;
            }
            if (NEED_DX) {
#if JV_NEED_DX
                float* dxp = dx_p + p * H * W;
                if (!STRIDED) {
                    for (int k = 0; k < KK; k++) wf[k] = wc[KK - 1 - k];
                    load_padded<1>(dyp, OH, OW, (KH - 1) * DH - PH, (KW - 1) * DW - PW, gd, bd.data());
                    fwd_plane<KH, KW, 1, 1, DH, DW>(bd.data(), gd, wf, 0.f, dxp, W, H, W);
                } else {
                    std::memset(bs.data(), 0, gx.size() * sizeof(float));
                    dgrad_scatter_plane<KH, KW, SH, SW, DH, DW>(bdy.data(), OH, OW, wc, gx, bs.data());
                    crop_padded<SW>(bs.data(), gx, PH, PW, H, W, dxp);
                }
#endif
            }
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
#if JV_NEED_DW
            for (int k = 0; k < KK; k++) {
                float s = 0.f;
                for (int n = 0; n < N; n++) s += part_w[((size_t)n * C + c) * KK + k];
                dw_p[(size_t)c * KK + k] = s;
            }
#endif
#if JV_NEED_DB
            float s = 0.f;
            for (int n = 0; n < N; n++) s += part_b[(size_t)n * C + c];
            db_p[c] = s;
#endif
        }
    }
}
