// MSCA (SegNeXt) spatial part, backward, CPU: gradients of s (see msca_fwd.cc) for x and the
// 14 parameters in one pass. Per plane, with ds the incoming gradient:
//   recompute a = conv0(x) and, pair by pair, h_k = convk_1(a);
//   vertical strip k:   dW, db from (h_k, ds);  dh_k = its input gradient of ds
//   horizontal strip k: dW, db from (a, dh_k);  da += its input gradient of dh_k
//   conv0:              da = ds + sum_k (...);  dW, db from (x, da);  dx = its input gradient
// Input gradients of "same"-padded stride-1 convolutions are forward convolutions of the framed
// gradient with the flipped kernel, so every step reuses the forward tiles. Nothing but x, ds
// and dx touches memory; weight/bias sums go to per-plane partials reduced per channel. Stages
// run over chunks of planes (see dwconv_cpu.h).
//   in0 x  in1..in14 w0 b0 w0_1 b0_1 w0_2 b0_2 w1_1 b1_1 w1_2 b1_2 w2_1 b2_1 w2_2 b2_2  in15 ds
//   out0 dx  out1..out14 the parameter gradients in the order of the inputs
@alias(x, in0)
@alias(ds, in15)
@alias(dx, out0)
{
    using namespace jvdw;
    constexpr int K0 = JV_K0, P0 = K0 / 2, S1 = JV_S1, S2 = JV_S2, S3 = JV_S3;
    constexpr int KK0 = K0 * K0;
    constexpr int SMAX = S1 > S2 ? (S1 > S3 ? S1 : S3) : (S2 > S3 ? S2 : S3);
    constexpr int KMAX = KK0 > SMAX ? KK0 : SMAX;  // flipped-kernel buffer: every kernel fits
    constexpr int PMAX = SMAX / 2;
    // partial-sum layout per plane: [w0 | b0 | w0_1 | b0_1 | w0_2 | b0_2 | ... | w2_2 | b2_2]
    constexpr int SZ[7] = {KK0, S1, S1, S2, S2, S3, S3};
    constexpr int OFF1 = KK0 + 1, OFF2 = OFF1 + 2 * (S1 + 1), OFF3 = OFF2 + 2 * (S2 + 1);
    constexpr int NP = OFF3 + 2 * (S3 + 1);
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const float* wp[7] = {in1_p, in3_p, in5_p, in7_p, in9_p, in11_p, in13_p};
    const float* bp[7] = {in2_p, in4_p, in6_p, in8_p, in10_p, in12_p, in14_p};
    float* gw[7] = {out1_p, out3_p, out5_p, out7_p, out9_p, out11_p, out13_p};
    float* gb[7] = {out2_p, out4_p, out6_p, out8_p, out10_p, out12_p, out14_p};
    const PadGeom g0 = pad_geom<K0, K0, 1, 1, 1, 1>(H, W);   // x framed for conv0
    const Framed fA = framed(H, W, 0, 0, PMAX, PMAX);       // a, dh_k (horizontal frame)
    const Framed fV = framed(H, W, PMAX, PMAX, 0, 0);       // h_k, ds (vertical frame)
    const Framed fD = framed(H, W, P0, P0, P0, P0);         // da framed for conv0's dx
    const size_t sX = g0.size(), sA = fA.g.size(), sV = fV.g.size(), sD = fD.g.size();
    std::vector<float> part((size_t)NC * NP);
    const int CH = chunk_planes(sX + 2 * sA + 2 * sV + sD, NC);
    #pragma omp parallel
    {
        std::vector<float> bx(sX * CH), ba(sA * CH), bh(sV * CH), bds(sV * CH), bdh(sA * CH), bda(sD * CH);
        float wf[KMAX];
        float sum_ds[CHUNK];
        #pragma omp for schedule(static)
        for (long p0 = 0; p0 < NC; p0 += CH) {
            const int m = (int)std::min<long>(CH, NC - p0);
#define JV_PLANE const long p = p0 + k; const int c = (int)(p % C); float* pp = part.data() + p * NP; (void)c; (void)pp;
            for (int k = 0; k < m; k++) {  // x, a = conv0(x), ds, da = ds
                JV_PLANE
                for (int q = 0; q < NP; q++) pp[q] = 0.f;
                load_padded<1>(x_p + p * HW, H, W, P0, P0, g0, bx.data() + k * sX);
                fwd_plane<K0, K0, 1, 1, 1, 1>(bx.data() + k * sX, g0, wp[0] + (long)c * KK0, bp[0][c],
                                              ba.data() + k * sA + fA.origin(), fA.g.pitch, H, W);
                load_padded<1>(ds_p + p * HW, H, W, fV.top, fV.left, fV.g, bds.data() + k * sV);
                const float* dso = bds.data() + k * sV + fV.origin();
                sum_ds[k] = plane_sum(dso, H, W, fV.g.pitch);
                float* dao = bda.data() + k * sD + fD.origin();
                for (int r = 0; r < H; r++)
                    std::memcpy(dao + (size_t)r * fD.g.pitch, dso + (size_t)r * fV.g.pitch, W * sizeof(float));
            }
#define JV_MSCA_PAIR_BWD(K, IH, IV, OFF)                                                              \
            for (int k = 0; k < m; k++) { /* h = strip_h(a) */                                        \
                JV_PLANE                                                                              \
                fwd_plane<1, K, 1, 1, 1, 1>(ba.data() + k * sA + fA.origin() - K / 2, fA.g,           \
                                            wp[IH] + (long)c * K, bp[IH][c],                          \
                                            bh.data() + k * sV + fV.origin(), fV.g.pitch, H, W);      \
            }                                                                                         \
            for (int k = 0; k < m; k++) { /* vertical strip: dW from (h, ds), db = sum ds */          \
                JV_PLANE                                                                              \
                wgrad_plane<K, 1, 1, 1, 1, 1>(bh.data() + k * sV + (size_t)(PMAX - K / 2) * fV.g.pitch, \
                                              fV.g, bds.data() + k * sV + fV.origin(), fV.g.pitch,    \
                                              H, W, pp + OFF + K + 1);                                \
                pp[OFF + 2 * K + 1] = sum_ds[k];                                                      \
            }                                                                                         \
            for (int k = 0; k < m; k++) { /* dh = strip_v^T(ds) */                                    \
                JV_PLANE                                                                              \
                flip<K>(wp[IV] + (long)c * K, wf);                                                    \
                fwd_plane<K, 1, 1, 1, 1, 1>(bds.data() + k * sV + (size_t)(PMAX - K / 2) * fV.g.pitch, \
                                            fV.g, wf, 0.f, bdh.data() + k * sA + fA.origin(),         \
                                            fA.g.pitch, H, W);                                        \
            }                                                                                         \
            for (int k = 0; k < m; k++) { /* horizontal strip: dW from (a, dh), db = sum dh */        \
                JV_PLANE                                                                              \
                const float* dho = bdh.data() + k * sA + fA.origin();                                 \
                wgrad_plane<1, K, 1, 1, 1, 1>(ba.data() + k * sA + fA.origin() - K / 2, fA.g, dho,    \
                                              fA.g.pitch, H, W, pp + OFF);                            \
                pp[OFF + K] = plane_sum(dho, H, W, fA.g.pitch);                                       \
            }                                                                                         \
            for (int k = 0; k < m; k++) { /* da += strip_h^T(dh) */                                   \
                JV_PLANE                                                                              \
                flip<K>(wp[IH] + (long)c * K, wf);                                                    \
                float* dao = bda.data() + k * sD + fD.origin();                                       \
                AccumEpi acc{dao, fD.g.pitch};                                                        \
                fwd_plane<1, K, 1, 1, 1, 1>(bdh.data() + k * sA + fA.origin() - K / 2, fA.g, wf, 0.f, \
                                            dao, fD.g.pitch, H, W, acc);                              \
            }
            JV_MSCA_PAIR_BWD(S1, 1, 2, OFF1)
            JV_MSCA_PAIR_BWD(S2, 3, 4, OFF2)
            JV_MSCA_PAIR_BWD(S3, 5, 6, OFF3)
#undef JV_MSCA_PAIR_BWD
            for (int k = 0; k < m; k++) {  // conv0: dW, db from (x, da)
                JV_PLANE
                const float* dao = bda.data() + k * sD + fD.origin();
                wgrad_plane<K0, K0, 1, 1, 1, 1>(bx.data() + k * sX, g0, dao, fD.g.pitch, H, W, pp);
                pp[KK0] = plane_sum(dao, H, W, fD.g.pitch);
            }
            for (int k = 0; k < m; k++) {  // dx = conv0^T(da)
                JV_PLANE
                flip<KK0>(wp[0] + (long)c * KK0, wf);
                fwd_plane<K0, K0, 1, 1, 1, 1>(bda.data() + k * sD, fD.g, wf, 0.f, dx_p + p * HW, W, H, W);
            }
#undef JV_PLANE
        }
        #pragma omp for schedule(static)
        for (int c = 0; c < C; c++) {
            float r[NP];
            reduce_partials(part.data(), N, C, NP, c, r);
            const int off[7] = {0, OFF1, OFF1 + S1 + 1, OFF2, OFF2 + S2 + 1, OFF3, OFF3 + S3 + 1};
            for (int t = 0; t < 7; t++) {
                for (int q = 0; q < SZ[t]; q++) gw[t][(size_t)c * SZ[t] + q] = r[off[t] + q];
                gb[t][c] = r[off[t] + SZ[t]];
            }
        }
    }
}
