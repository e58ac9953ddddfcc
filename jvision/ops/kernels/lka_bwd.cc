// LKA (VAN) spatial part, backward, CPU: gradients of attn = convB(convA(x)) (see lka_fwd.cc)
// for x and the four parameters in one pass, from convA's output a saved by the forward pass;
// every intermediate plane stays in cache. Stages run over chunks of planes; weight and
// bias sums go to per-plane partials reduced per channel (no atomics).
//   in0 x  in1 wA  in2 bA  in3 wB  in4 bB  in5 dattn [N,C,H,W]  in6 a [N,C,H,W]
//   out0 dx  out1 dwA  out2 dbA  out3 dwB  out4 dbB
@alias(x, in0)
@alias(wa, in1)
@alias(ba, in2)
@alias(wb, in3)
@alias(bb, in4)
@alias(dy, in5)
@alias(asv, in6)
@alias(dx, out0)
@alias(dwa, out1)
@alias(dba, out2)
@alias(dwb, out3)
@alias(dbb, out4)
{
    using namespace jvdw;
    constexpr int AKH = JV_A_KH, AKW = JV_A_KW, ADH = JV_A_DH, ADW = JV_A_DW, APH = JV_A_PH, APW = JV_A_PW;
    constexpr int BKH = JV_B_KH, BKW = JV_B_KW, BDH = JV_B_DH, BDW = JV_B_DW, BPH = JV_B_PH, BPW = JV_B_PW;
    constexpr int AKK = AKH * AKW, BKK = BKH * BKW;
    constexpr int NP = AKK + 1 + BKK + 1;  // partial sums per plane: wA, bA, wB, bB
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const PadGeom gA = pad_geom<AKH, AKW, 1, 1, ADH, ADW>(H, W);   // x framed for convA
    const Framed fB = framed(H, W, BPH, BPH, BPW, BPW);             // a framed for convB;
                                                                    // also dattn, framed by (K-1)*D-P = P
    const Framed fA = framed(H, W, APH, APH, APW, APW);             // da framed for convA's dx
    const size_t sX = gA.size(), sB = fB.g.size(), sA = fA.g.size();
    std::vector<float> part((size_t)NC * NP);
    const int CH = chunk_planes(sX + 2 * sB + sA, NC);
    #pragma omp parallel
    {
        std::vector<float> bx(sX * CH), bav(sB * CH), bdy(sB * CH), bda(sA * CH);
        float wf[AKK > BKK ? AKK : BKK];
        #pragma omp for schedule(static)
        for (long p0 = 0; p0 < NC; p0 += CH) {
            const int m = (int)std::min<long>(CH, NC - p0);
            for (int k = 0; k < m; k++) {  // x, a and dattn into their frames
                const long p = p0 + k;
                float* pp = part.data() + p * NP;
                for (int q = 0; q < NP; q++) pp[q] = 0.f;
                load_padded<1>(x_p + p * HW, H, W, APH, APW, gA, bx.data() + k * sX);
                load_padded<1>(asv_p + p * HW, H, W, fB.top, fB.left, fB.g, bav.data() + k * sB);
                load_padded<1>(dy_p + p * HW, H, W, fB.top, fB.left, fB.g, bdy.data() + k * sB);
            }
            for (int k = 0; k < m; k++) {  // convB: weight and bias gradients
                const long p = p0 + k;
                float* pp = part.data() + p * NP;
                const float* dyo = bdy.data() + k * sB + fB.origin();
                wgrad_plane<BKH, BKW, 1, 1, BDH, BDW>(bav.data() + k * sB, fB.g, dyo, fB.g.pitch, H, W,
                                                      pp + AKK + 1);
                pp[AKK + 1 + BKK] = plane_sum(dyo, H, W, fB.g.pitch);
            }
            for (int k = 0; k < m; k++) {  // convB: input gradient da
                const int c = (int)((p0 + k) % C);
                flip<BKK>(wb_p + (long)c * BKK, wf);
                fwd_plane<BKH, BKW, 1, 1, BDH, BDW>(bdy.data() + k * sB, fB.g, wf, 0.f,
                                                    bda.data() + k * sA + fA.origin(), fA.g.pitch, H, W);
            }
            for (int k = 0; k < m; k++) {  // convA: weight and bias gradients
                float* pp = part.data() + (p0 + k) * NP;
                const float* dao = bda.data() + k * sA + fA.origin();
                wgrad_plane<AKH, AKW, 1, 1, ADH, ADW>(bx.data() + k * sX, gA, dao, fA.g.pitch, H, W, pp);
                pp[AKK] = plane_sum(dao, H, W, fA.g.pitch);
            }
            for (int k = 0; k < m; k++) {  // convA: dx
                const long p = p0 + k;
                const int c = (int)(p % C);
                flip<AKK>(wa_p + (long)c * AKK, wf);
                fwd_plane<AKH, AKW, 1, 1, ADH, ADW>(bda.data() + k * sA, fA.g, wf, 0.f, dx_p + p * HW, W, H, W);
            }
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            float r[NP];
            reduce_partials(part.data(), N, C, NP, c, r);
            for (int q = 0; q < AKK; q++) dwa_p[(size_t)c * AKK + q] = r[q];
            dba_p[c] = r[AKK];
            for (int q = 0; q < BKK; q++) dwb_p[(size_t)c * BKK + q] = r[AKK + 1 + q];
            dbb_p[c] = r[AKK + 1 + BKK];
        }
    }
}
