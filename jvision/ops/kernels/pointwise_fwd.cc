// 1x1 convolution (stride 1, no padding, one group), forward, CPU (gemm_cpu.h): per sample,
// y[n] (D x S) = act(W (D x C) . x[n] (C x S) + b) with S = H * W positions of the NCHW map as it
// lies. Batches of at least one sample per thread run one sample per OpenMP task; smaller batches
// run sample by sample with oneDNN's own threading.
//   in0 x [N, C, S]   in1 w [D, C]   in2 b [D] (JV_BIAS; otherwise absent)
//   out0 y [N, D, S]  out1 h [N, D, S]: the pre-activation, for the backward (JV_GELU && JV_KEEP_PRE)
// JV_GELU: act = GELU (exact erf form), applied per sample right after its product.
@alias(x, in0)
@alias(w, in1)
@alias(y, out0)
{
    const long N = x_shape0, C = x_shape1, S = x_shape2, D = w_shape0;
    // One sample; `split`: spread its element-wise work over the threads (sample-by-sample mode).
    auto one = [&](long n, bool split) {
#if JV_GELU && JV_KEEP_PRE
        float* hn = out1_p + n * D * S;   // the product goes to h, GELU(h) to y
#else
        float* hn = y_p + n * D * S;      // in place
#endif
        float beta = 0.f;
#if JV_BIAS
        for (long d = 0; d < D; d++) {
            const float bv = in2_p[d];
            float* r = hn + d * S;
            for (long s = 0; s < S; s++) r[s] = bv;
        }
        beta = 1.f;
#endif
        dnnl_sgemm('N', 'N', D, S, C, 1.f, w_p, C, x_p + n * C * S, S, beta, hn, S);
#if JV_GELU
        float* yn = y_p + n * D * S;
        const long L = D * S, nb = (L + 4095) / 4096;
        #pragma omp parallel for schedule(static) if (split)
        for (long blk = 0; blk < nb; blk++) jvgemm::gelu_span(hn, yn, blk * 4096, std::min(L, blk * 4096 + 4096));
#endif
    };
    if (jvgemm::per_sample_tasks(N)) {
        #pragma omp parallel for schedule(static)
        for (long n = 0; n < N; n++) one(n, false);
    } else {
        for (long n = 0; n < N; n++) one(n, true);
    }
}
