// ConvMod (Conv2Former) modulation, backward, CPU: gradients of y = (dwconv(GELU(a)) + b) * v
// (see convmod_fwd.cc) for a, v, w and b in one pass over the planes:
//   g = GELU(a), t = dwconv(g) + b (both recomputed in cache)
//   dv = dy * t      dt = dy * v      dw, db from (g, dt)      da = dwconv^T(dt) * GELU'(a)
//   in0 a  in1 v  in2 w  in3 b  in4 dy      out0 da  out1 dv  out2 dw  out3 db
@alias(ain, in0)
@alias(v, in1)
@alias(w, in2)
@alias(b, in3)
@alias(dy, in4)
@alias(dain, out0)
@alias(dv, out1)
@alias(dw, out2)
@alias(db, out3)
{
    using namespace jvdw;
    constexpr int KH = JV_KH, KW = JV_KW, DH = JV_DH, DW = JV_DW, PH = JV_PH, PW = JV_PW;
    constexpr int KK = KH * KW, NP = KK + 1;
    const int N = ain_shape0, C = ain_shape1, H = ain_shape2, W = ain_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const PadGeom gg = pad_geom<KH, KW, 1, 1, DH, DW>(H, W);
    const Framed fT = framed(H, W, PH, PH, PW, PW);  // dt framed for the input gradient
    const int tpitch = round_up(W, VL);
    std::vector<float> part((size_t)NC * NP);
    #pragma omp parallel
    {
        std::vector<float> bg(gg.size()), bt((size_t)H * tpitch), ba((size_t)H * tpitch), bdt(fT.g.size());
        float wf[KK];
        #pragma omp for schedule(static)
        for (long p = 0; p < NC; p++) {
            const int c = (int)(p % C);
            const float* wc = w_p + (long)c * KK;
            float* pp = part.data() + p * NP;
            for (int k = 0; k < NP; k++) pp[k] = 0.f;
            load_padded<1>(ain_p + p * HW, H, W, PH, PW, gg, bg.data());
            gelu_rows(bg.data(), gg, PH, PW, H, W);
            fwd_plane<KH, KW, 1, 1, DH, DW>(bg.data(), gg, wc, b_p[c], bt.data(), tpitch, H, W);
            const float* dyp = dy_p + p * HW;
            const float* vp = v_p + p * HW;
            float* dvp = dv_p + p * HW;
            float* dto = bdt.data() + fT.origin();
            float sdt = 0.f;
            for (int r = 0; r < H; r++) {
                const float* t = bt.data() + (size_t)r * tpitch;
                float* d = dto + (size_t)r * fT.g.pitch;
                float srow = 0.f;
                for (int q = 0; q < W; q++) {
                    const float gy = dyp[(size_t)r * W + q];
                    dvp[(size_t)r * W + q] = gy * t[q];
                    d[q] = gy * vp[(size_t)r * W + q];
                    srow += d[q];
                }
                sdt += srow;
            }
            wgrad_plane<KH, KW, 1, 1, DH, DW>(bg.data(), gg, dto, fT.g.pitch, H, W, pp);
            pp[KK] = sdt;
            flip<KK>(wc, wf);
            load_rows_vpad(ain_p + p * HW, H, W, ba.data());
            GeluGradEpi ggrad{ba.data(), tpitch};
            fwd_plane<KH, KW, 1, 1, DH, DW>(bdt.data(), fT.g, wf, 0.f, dain_p + p * HW, W, H, W, ggrad);
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            float r[NP];
            reduce_partials(part.data(), N, C, NP, c, r);
            for (int k = 0; k < KK; k++) dw_p[(size_t)c * KK + k] = r[k];
            db_p[c] = r[KK];
        }
    }
}
