// LKA (VAN) spatial part, forward, CPU: attn = convB(convA(x)), two depthwise convolutions with
// stride 1 and "same" padding (VAN: A = 5x5 pad 2, B = 7x7 dilation 3 pad 9), fused: convA's
// output is written straight into the zero-framed buffer that convB reads, so it never goes
// to memory. Stages run over chunks of planes (see dwconv_cpu.h).
//   in0 x [N,C,H,W]  in1 wA [C,1,KA,KA']  in2 bA [C]  in3 wB [C,1,KB,KB']  in4 bB [C]
//   out0 attn [N,C,H,W]   out1 a = convA(x) [N,C,H,W] (when JV_SAVE_A: kept for the backward)
// Compile-time: JV_A_KH JV_A_KW JV_A_DH JV_A_DW JV_A_PH JV_A_PW, the same for B, JV_SAVE_A.
@alias(x, in0)
@alias(wa, in1)
@alias(ba, in2)
@alias(wb, in3)
@alias(bb, in4)
@alias(y, out0)
{
    using namespace jvdw;
    constexpr int AKH = JV_A_KH, AKW = JV_A_KW, ADH = JV_A_DH, ADW = JV_A_DW, APH = JV_A_PH, APW = JV_A_PW;
    constexpr int BKH = JV_B_KH, BKW = JV_B_KW, BDH = JV_B_DH, BDW = JV_B_DW, BPH = JV_B_PH, BPW = JV_B_PW;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const PadGeom gA = pad_geom<AKH, AKW, 1, 1, ADH, ADW>(H, W);
    const Framed fB = framed(H, W, BPH, BPH, BPW, BPW);
    const size_t sB = fB.g.size();
    const int CH = chunk_planes(sB, NC);
    #pragma omp parallel
    {
        std::vector<float> bx(gA.size()), bfr(sB * CH);
        #pragma omp for schedule(static)
        for (long p0 = 0; p0 < NC; p0 += CH) {
            const int m = (int)std::min<long>(CH, NC - p0);
            for (int k = 0; k < m; k++) {
                const long p = p0 + k;
                const int c = (int)(p % C);
                load_padded<1>(x_p + p * HW, H, W, APH, APW, gA, bx.data());
                fwd_plane<AKH, AKW, 1, 1, ADH, ADW>(bx.data(), gA, wa_p + (long)c * AKH * AKW, ba_p[c],
                                                    bfr.data() + k * sB + fB.origin(), fB.g.pitch, H, W);
#if JV_SAVE_A
                store_plane(bfr.data() + k * sB + fB.origin(), fB.g.pitch, H, W, out1_p + p * HW);
#endif
            }
            for (int k = 0; k < m; k++) {
                const long p = p0 + k;
                const int c = (int)(p % C);
                fwd_plane<BKH, BKW, 1, 1, BDH, BDW>(bfr.data() + k * sB, fB.g, wb_p + (long)c * BKH * BKW,
                                                    bb_p[c], y_p + p * HW, W, H, W);
            }
        }
    }
}
