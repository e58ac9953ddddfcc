// Convolution as im2col + sgemm, backward, CPU (forward: conv_fwd.cc). With G = dL/dy:
//   dW = sum_n G[n] . col(x[n])^T,   db = sum_n,l G[n],   dx[n] = col2im(W^T . G[n]) (JV_NEED_DX).
//   in0 x [N, C, H, W]   in1 w [D, C, KH, KW]   in2 g [N, D, OH, OW]
//   out0 dw [D, C, KH, KW]   out1 db [D] (JV_BIAS)   out2 (out1 without bias) dx [N, C, H, W] (JV_NEED_DX)
// Per-sample tasks accumulate dW and db into one partial per thread, summed in a fixed order.
@alias(x, in0)
@alias(w, in1)
@alias(g, in2)
@alias(dw, out0)
{
    const long N = x_shape0, D = w_shape0;
    const jvgemm::ConvDims d{x_shape1, x_shape2, x_shape3, g_shape2, g_shape3};
    const long K = d.C * JV_KH * JV_KW, L = d.OH * d.OW;
#if JV_BIAS
    float* db_p = out1_p;
  #if JV_NEED_DX
    float* dx_p = out2_p;
  #endif
#elif JV_NEED_DX
    float* dx_p = out1_p;
#endif
    const bool tasks = jvgemm::per_sample_tasks(N);
    const int T = tasks ? omp_get_max_threads() : 1;
    std::vector<float> part((size_t)(T - 1) * D * K);
    std::vector<double> bsum((size_t)T * D, 0.0);
    #pragma omp parallel num_threads(T) if (tasks)
    {
        const int t = tasks ? omp_get_thread_num() : 0;
        float* acc = t == 0 ? dw_p : part.data() + (size_t)(t - 1) * D * K;
        const long n0 = N * t / T, n1 = N * (t + 1) / T;
        std::vector<float> col_buf((size_t)K * L);
        float* col = col_buf.data();
        for (long n = n0; n < n1; n++) {
            const float* xn = x_p + n * d.C * d.H * d.W;
            const float* gn = g_p + n * D * L;
            #pragma omp parallel for schedule(static) if (!tasks)
            for (long c = 0; c < d.C; c++)
                jvgemm::im2col<JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(xn, d, col, c, c + 1);
            dnnl_sgemm('N', 'T', D, K, L, 1.f, gn, L, col, L, n == n0 ? 0.f : 1.f, acc, K);
#if JV_BIAS
            jvgemm::add_row_sums(gn, D, L, bsum.data() + (size_t)t * D);
#endif
#if JV_NEED_DX
            dnnl_sgemm('T', 'N', K, L, D, 1.f, w_p, K, gn, L, 0.f, col, L);
            float* dxn = dx_p + n * d.C * d.H * d.W;
            #pragma omp parallel for schedule(static) if (!tasks)
            for (long c = 0; c < d.C; c++) {
                std::memset(dxn + c * d.H * d.W, 0, sizeof(float) * d.H * d.W);
                jvgemm::col2im_add<JV_KH, JV_KW, JV_SH, JV_SW, JV_PH, JV_PW, JV_DH, JV_DW>(col, d, dxn, c, c + 1);
            }
#endif
        }
        if (n0 == n1)
            for (long i = 0; i < D * K; i++) acc[i] = 0.f;
    }
    jvgemm::reduce_partials(dw_p, part.data(), T, D * K);
#if JV_BIAS
    jvgemm::reduce_bias_sums(bsum.data(), T, D, db_p);
#endif
}
