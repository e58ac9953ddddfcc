// Convolution (one group, any kernel / stride / padding / dilation) as im2col + sgemm, forward, CPU
// (gemm_cpu.h): per sample, y[n] (D x L) = W (D x K) . col(x[n]) (K x L) + b, K = C*KH*KW,
// L = OH*OW. Used where oneDNN's direct convolution is slow on NCHW maps: strided convolutions
// (patch embeddings, downsampling) whose reorders cost more than their arithmetic.
//   in0 x [N, C, H, W]   in1 w [D, C, KH, KW]   in2 b [D] (JV_BIAS)   out0 y [N, D, OH, OW]
// A task per sample (per-thread column buffer) when the batch has one per thread; otherwise sample
// by sample, im2col split over channels and oneDNN's own threading.
@alias(x, in0)
@alias(w, in1)
@alias(y, out0)
{
    const long N = x_shape0, D = w_shape0;
    const jvgemm::ConvDims d{x_shape1, x_shape2, x_shape3, y_shape2, y_shape3};
    const long K = d.C * JV_KH * JV_KW, L = d.OH * d.OW;
    const bool tasks = jvgemm::per_sample_tasks(N);
    auto one = [&](long n, float* col) {
        const float* xn = x_p + n * d.C * d.H * d.W;
        if (tasks) {
            jvgemm::im2col<JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(xn, d, col, 0, d.C);
        } else {
            #pragma omp parallel for schedule(static)
            for (long c = 0; c < d.C; c++)
                jvgemm::im2col<JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(xn, d, col, c, c + 1);
        }
        float* yn = y_p + n * D * L;
        float beta = 0.f;
#if JV_BIAS
        for (long o = 0; o < D; o++)
            for (long l = 0; l < L; l++) yn[o * L + l] = in2_p[o];
        beta = 1.f;
#endif
        dnnl_sgemm('N', 'N', D, L, K, 1.f, w_p, K, col, L, beta, yn, L);
    };
    if (tasks) {
        #pragma omp parallel
        {
            std::vector<float> col((size_t)K * L);
            #pragma omp for schedule(static)
            for (long n = 0; n < N; n++) one(n, col.data());
        }
    } else {
        std::vector<float> col((size_t)K * L);
        for (long n = 0; n < N; n++) one(n, col.data());
    }
}
