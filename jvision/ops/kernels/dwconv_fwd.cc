// Depthwise convolution, forward, CPU (body of a jt.code op; building blocks in dwconv_cpu.h).
//   in0  x [N, C, H, W]      in1  w [C, 1, KH, KW]      in2  bias [C] (when JV_HAS_BIAS)
//   out0 y [N, C, OH, OW]
// Compile-time: JV_KH JV_KW JV_SH JV_SW JV_DH JV_DW JV_PH JV_PW JV_HAS_BIAS, and JV_RES_GELU:
// y = x + GELU(conv(x)) instead (stride 1, output the input's size; forward only).
// Run time: every shape, so one compiled op serves any batch, channel count and image size.
// One (n, c) plane per OpenMP task: the plane is copied once into a zero-padded thread-local
// buffer (which stays in L1/L2), then every output vector is computed with no bounds checks.
@alias(x, in0)
@alias(w, in1)
@alias(y, out0)
{
    using namespace jvdw;
    constexpr int KH = JV_KH, KW = JV_KW, SH = JV_SH, SW = JV_SW, DH = JV_DH, DW = JV_DW;
    const int N = x_shape0, C = x_shape1, H = x_shape2, W = x_shape3;
    const int OH = y_shape2, OW = y_shape3;
    const long NC = (long)N * C;
    const PadGeom g = pad_geom<KH, KW, SH, SW, DH, DW>(OH, OW);
#if JV_HAS_BIAS
    const float* bias = in2_p;
#else
    const float* bias = nullptr;
#endif
    #pragma omp parallel
    {
        std::vector<float> buf(g.size());
        #pragma omp for schedule(static)
        for (long p = 0; p < NC; p++) {
            const int c = (int)(p % C);
            load_padded<SW>(x_p + p * H * W, H, W, JV_PH, JV_PW, g, buf.data());
#if JV_RES_GELU
            // y = x + GELU(conv(x)) (stride 1, "same" padding): x read back from the padded plane.
            ResidualGeluEpi e{buf.data() + (size_t)JV_PH * g.pitch + JV_PW, g.pitch};
            fwd_plane<KH, KW, SH, SW, DH, DW>(buf.data(), g, w_p + (long)c * KH * KW,
                                              bias ? bias[c] : 0.f, y_p + p * OH * OW, OW, OH, OW, e);
#else
            fwd_plane<KH, KW, SH, SW, DH, DW>(buf.data(), g, w_p + (long)c * KH * KW,
                                              bias ? bias[c] : 0.f, y_p + p * OH * OW, OW, OH, OW);
#endif
        }
    }
}
