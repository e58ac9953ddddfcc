// 1x1 convolution, backward, CPU (forward: pointwise_fwd.cc). With G = dL/dy and, under JV_GELU,
// G := G * GELU'(h) first (h the pre-activation the forward kept):
//   dx[n] = W^T . G[n],   dW = sum_n G[n] . x[n]^T,   db = sum_n,s G[n, :, s].
//   in0 x [N, C, S]   in1 w [D, C]   in2 g [N, D, S]   in3 h [N, D, S] (JV_GELU)
//   out0 dx [N, C, S]   out1 dw [D, C]   out2 db [D] (JV_BIAS; otherwise absent)
// Per-sample tasks accumulate dW and db into one partial per thread, summed at the end in a fixed
// order, so the result does not depend on the schedule; small batches go sample by sample with
// oneDNN's threading.
@alias(x, in0)
@alias(w, in1)
@alias(g, in2)
@alias(dx, out0)
@alias(dw, out1)
{
    const long N = x_shape0, C = x_shape1, S = x_shape2, D = w_shape0;
    const bool tasks = jvgemm::per_sample_tasks(N);
    const int T = tasks ? omp_get_max_threads() : 1;
    std::vector<float> part((size_t)(T - 1) * D * C);
    std::vector<double> bsum((size_t)T * D, 0.0);
    #pragma omp parallel num_threads(T) if (tasks)
    {
        const int t = tasks ? omp_get_thread_num() : 0;
        float* acc = t == 0 ? dw_p : part.data() + (size_t)(t - 1) * D * C;
        const long n0 = N * t / T, n1 = N * (t + 1) / T;
#if JV_GELU
        std::vector<float> gh_buf((size_t)D * S);
        float* gh = gh_buf.data();
#endif
        for (long n = n0; n < n1; n++) {
#if JV_GELU
            const float* hn = in3_p + n * D * S;
            const float* gn0 = g_p + n * D * S;
            if (tasks) {
                jvgemm::gelu_grad_span(hn, gn0, gh, 0, D * S);
            } else {
                const long L = D * S, nb = (L + 4095) / 4096;
                #pragma omp parallel for schedule(static)
                for (long blk = 0; blk < nb; blk++)
                    jvgemm::gelu_grad_span(hn, gn0, gh, blk * 4096, std::min(L, blk * 4096 + 4096));
            }
            const float* gn = gh;
#else
            const float* gn = g_p + n * D * S;
#endif
            dnnl_sgemm('T', 'N', C, S, D, 1.f, w_p, C, gn, S, 0.f, dx_p + n * C * S, S);
            dnnl_sgemm('N', 'T', D, C, S, 1.f, gn, S, x_p + n * C * S, S, n == n0 ? 0.f : 1.f, acc, C);
#if JV_BIAS
            jvgemm::add_row_sums(gn, D, S, bsum.data() + (size_t)t * D);
#endif
        }
        if (n0 == n1)
            for (long i = 0; i < D * C; i++) acc[i] = 0.f;
    }
    jvgemm::reduce_partials(dw_p, part.data(), T, D * C);
#if JV_BIAS
    jvgemm::reduce_bias_sums(bsum.data(), T, D, out2_p);
#endif
}
