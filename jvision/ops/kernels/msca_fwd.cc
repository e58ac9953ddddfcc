// MSCA (SegNeXt) spatial part, forward, CPU, fused:
//   a = conv0(x)                      (K0 x K0 depthwise, "same" padding)
//   s = a + sum_k convk_2(convk_1(a))  for the strip pairs (1 x Sk then Sk x 1), k = 1..3
// conv0's output goes into a buffer framed by PMAX zero columns on each side, from which all
// three horizontal strips read (each from its own offset); each horizontal-strip output goes
// into a buffer framed by PMAX zero rows, from which its vertical strip reads, adding into the
// running sum s. Only x is read from memory and only s is written. Stages run over chunks of
// planes (see dwconv_cpu.h).
//   in0 x [N,C,H,W]  in1 w0 in2 b0  in3 w0_1 in4 b0_1  in5 w0_2 in6 b0_2
//   in7 w1_1 in8 b1_1  in9 w1_2 in10 b1_2  in11 w2_1 in12 b2_1  in13 w2_2 in14 b2_2
//   out0 s [N,C,H,W]
// Compile-time: JV_K0 (5), JV_S1 JV_S2 JV_S3 (7, 11, 21).
@alias(x, in0)
@alias(s, out0)
{
    using namespace jvdw;
    constexpr int K0 = JV_K0, P0 = K0 / 2, S1 = JV_S1, S2 = JV_S2, S3 = JV_S3;
    constexpr int PMAX = (S1 > S2 ? (S1 > S3 ? S1 : S3) : (S2 > S3 ? S2 : S3)) / 2;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const float* wp[7] = {in1_p, in3_p, in5_p, in7_p, in9_p, in11_p, in13_p};
    const float* bp[7] = {in2_p, in4_p, in6_p, in8_p, in10_p, in12_p, in14_p};
    const PadGeom g0 = pad_geom<K0, K0, 1, 1, 1, 1>(H, W);
    const Framed fA = framed(H, W, 0, 0, PMAX, PMAX);   // a, horizontal frame
    const Framed fV = framed(H, W, PMAX, PMAX, 0, 0);   // strip outputs, vertical frame
    const int spitch = round_up(W, VL);
    const size_t sA = fA.g.size(), sV = fV.g.size(), sS = (size_t)H * spitch;
    const int CH = chunk_planes(sA + sV + sS, NC);
    #pragma omp parallel
    {
        std::vector<float> bx(g0.size()), ba(sA * CH), bv(sV * CH), sb(sS * CH);
        #pragma omp for schedule(static)
        for (long p0 = 0; p0 < NC; p0 += CH) {
            const int m = (int)std::min<long>(CH, NC - p0);
            for (int k = 0; k < m; k++) {  // a = conv0(x); s = a
                const long p = p0 + k;
                const int c = (int)(p % C);
                load_padded<1>(x_p + p * HW, H, W, P0, P0, g0, bx.data());
                float* ao = ba.data() + k * sA + fA.origin();
                fwd_plane<K0, K0, 1, 1, 1, 1>(bx.data(), g0, wp[0] + (long)c * K0 * K0, bp[0][c], ao,
                                              fA.g.pitch, H, W);
                for (int r = 0; r < H; r++)  // whole vectors: the tails are zero
                    std::memcpy(sb.data() + k * sS + (size_t)r * spitch, ao + (size_t)r * fA.g.pitch,
                                spitch * sizeof(float));
            }
#define JV_MSCA_PAIR(K, IH, IV)                                                                       \
            for (int k = 0; k < m; k++) {                                                             \
                const int c = (int)((p0 + k) % C);                                                    \
                fwd_plane<1, K, 1, 1, 1, 1>(ba.data() + k * sA + fA.origin() - K / 2, fA.g,           \
                                            wp[IH] + (long)c * K, bp[IH][c],                          \
                                            bv.data() + k * sV + fV.origin(), fV.g.pitch, H, W);      \
            }                                                                                         \
            for (int k = 0; k < m; k++) {                                                             \
                const int c = (int)((p0 + k) % C);                                                    \
                AccumEpi acc{sb.data() + k * sS, spitch};                                             \
                fwd_plane<K, 1, 1, 1, 1, 1>(bv.data() + k * sV + (size_t)(PMAX - K / 2) * fV.g.pitch, \
                                            fV.g, wp[IV] + (long)c * K, bp[IV][c],                    \
                                            sb.data() + k * sS, spitch, H, W, acc);                   \
            }
            JV_MSCA_PAIR(S1, 1, 2)
            JV_MSCA_PAIR(S2, 3, 4)
            JV_MSCA_PAIR(S3, 5, 6)
#undef JV_MSCA_PAIR
            for (int k = 0; k < m; k++)
                store_plane(sb.data() + k * sS, spitch, H, W, s_p + (p0 + k) * HW);
        }
    }
}
