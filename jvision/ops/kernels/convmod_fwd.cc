// ConvMod (Conv2Former) modulation, forward, CPU: y = (dwconv(GELU(a)) + b) * v, fused per plane,
// with a = att.0(x) and v = v(x) computed by the caller (1x1 convolutions). GELU is applied to
// the plane while it sits in the padded buffer (GELU(0) = 0 keeps the zero padding), and the
// depthwise output is multiplied by v in the tile epilogue: neither GELU(a) nor the depthwise
// output is ever stored.
//   in0 a [N,C,H,W]  in1 v [N,C,H,W]  in2 w [C,1,KH,KW]  in3 b [C]   out0 y [N,C,H,W]
// Compile-time: JV_KH JV_KW JV_DH JV_DW JV_PH JV_PW ("same" padding, stride 1).
@alias(ain, in0)
@alias(v, in1)
@alias(w, in2)
@alias(b, in3)
@alias(y, out0)
{
    using namespace jvdw;
    constexpr int KH = JV_KH, KW = JV_KW, DH = JV_DH, DW = JV_DW, PH = JV_PH, PW = JV_PW;
    const int N = ain_shape0, C = ain_shape1, H = ain_shape2, W = ain_shape3;
    const long NC = (long)N * C, HW = (long)H * W;
    const PadGeom gg = pad_geom<KH, KW, 1, 1, DH, DW>(H, W);
    #pragma omp parallel
    {
        std::vector<float> bg(gg.size());
        #pragma omp for schedule(static)
        for (long p = 0; p < NC; p++) {
            const int c = (int)(p % C);
            load_padded<1>(ain_p + p * HW, H, W, PH, PW, gg, bg.data());
            gelu_rows(bg.data(), gg, PH, PW, H, W);
            MulDenseEpi mul{v_p + p * HW, W};
            fwd_plane<KH, KW, 1, 1, DH, DW>(bg.data(), gg, w_p + (long)c * KH * KW, b_p[c],
                                            y_p + p * HW, W, H, W, mul);
        }
    }
}
